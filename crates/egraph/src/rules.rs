//! Directed rewrite rules, each named and counted.
//!
//! A rule looks at one e-node of an e-class and may propose a term equal to
//! it: an existing e-class (`x + 0 → x`), a constant, or a new node over
//! existing classes. There are no commutativity or associativity rules (so
//! no blow-up); rules that care about operand order check both sides.
//!
//! Each rule is both egg's searcher and applier: the searcher reports the
//! e-classes where the rule proposes something, the applier re-runs it on
//! the (possibly since merged) class and unions the proposal in. A rule
//! counts as applied only when a union changed the e-graph, so repeated
//! searches over a saturated graph count nothing and the runner saturates.

use crate::fold::{self, mask};
use crate::lang::{EGraph, ENode, Facts, Op};
use bulkhead_ir::{BinaryOp, IntCC, Type, UnaryOp};
use egg::{Applier, Id, PatternAst, Rewrite, SearchMatches, Searcher, Subst, Symbol, Var};

/// What a rule proposes to be equal to the matched node.
pub enum Term {
    Class(Id),
    Const(Type, u64),
    Node(Op, Vec<Term>),
}

type RuleFn = fn(&EGraph, Id, &ENode) -> Option<Term>;

#[derive(Copy, Clone)]
pub struct Rule {
    pub name: &'static str,
    f: RuleFn,
}

/// Constant folding: a class whose value the analysis knows gets an iconst.
pub const CONST_FOLD: &[Rule] = &[Rule { name: "const-fold", f: const_fold }];

/// Algebraic identities.
pub const ALGEBRAIC: &[Rule] = &[
    Rule { name: "add-zero", f: add_zero },
    Rule { name: "sub-zero", f: sub_zero },
    Rule { name: "sub-self", f: sub_self },
    Rule { name: "mul-one", f: mul_one },
    Rule { name: "mul-zero", f: mul_zero },
    Rule { name: "div-one", f: div_one },
    Rule { name: "div-by-zero", f: div_by_zero },
    Rule { name: "rem-one", f: rem_one },
    Rule { name: "rem-by-zero", f: rem_by_zero },
    Rule { name: "and-zero", f: and_zero },
    Rule { name: "and-ones", f: and_ones },
    Rule { name: "or-zero", f: or_zero },
    Rule { name: "or-ones", f: or_ones },
    Rule { name: "xor-zero", f: xor_zero },
    Rule { name: "and-or-self", f: and_or_self },
    Rule { name: "xor-self", f: xor_self },
    Rule { name: "shift-by-zero", f: shift_by_zero },
    Rule { name: "shift-of-zero", f: shift_of_zero },
    Rule { name: "icmp-self", f: icmp_self },
    Rule { name: "eqz-icmp", f: eqz_icmp },
    Rule { name: "select-const-cond", f: select_const_cond },
    Rule { name: "select-same-arms", f: select_same_arms },
    Rule { name: "select-eqz", f: select_eqz },
    Rule { name: "addr-add-zero", f: addr_add_zero },
    Rule { name: "addr-add-fold", f: addr_add_fold },
];

/// The name under which hash-consing merges of identical pure
/// instructions are counted.
pub const CSE: &str = "cse";

pub fn rewrites(rules: &[Rule]) -> Vec<Rewrite<ENode, Facts>> {
    rules.iter().map(|r| Rewrite::new(r.name, *r, *r).expect("rules bind no pattern variables")).collect()
}

/// Every rule name that can appear in the statistics.
pub fn all_names() -> impl Iterator<Item = &'static str> {
    CONST_FOLD.iter().chain(ALGEBRAIC).map(|r| r.name).chain([CSE])
}

impl Searcher<ENode, Facts> for Rule {
    fn search_eclass_with_limit(&self, egraph: &EGraph, eclass: Id, limit: usize) -> Option<SearchMatches<'_, ENode>> {
        if limit == 0 {
            return None;
        }
        let class = &egraph[eclass];
        if class.nodes.iter().any(|n| (self.f)(egraph, class.id, n).is_some()) {
            Some(SearchMatches { eclass: class.id, substs: vec![Subst::default()], ast: None })
        } else {
            None
        }
    }

    fn vars(&self) -> Vec<Var> {
        Vec::new()
    }
}

impl Applier<ENode, Facts> for Rule {
    fn apply_matches(&self, egraph: &mut EGraph, matches: &[SearchMatches<ENode>], _: Symbol) -> Vec<Id> {
        let mut changed = Vec::new();
        for m in matches {
            let nodes = egraph[m.eclass].nodes.clone();
            for node in nodes {
                let class = egraph.find(m.eclass);
                let node = node.map_children(|c| egraph.find(c));
                if let Some(term) = (self.f)(egraph, class, &node) {
                    let id = build(egraph, &term, node.salt);
                    if egraph.union(class, id) {
                        changed.push(egraph.find(class));
                    }
                }
            }
        }
        changed
    }

    fn apply_one(&self, _: &mut EGraph, _: Id, _: &Subst, _: Option<&PatternAst<ENode>>, _: Symbol) -> Vec<Id> {
        // `apply_matches` is overridden; this is never called.
        Vec::new()
    }
}

fn build(egraph: &mut EGraph, term: &Term, salt: u32) -> Id {
    match term {
        Term::Class(id) => *id,
        Term::Const(ty, bits) if ty.is_float() => {
            egraph.add(ENode::leaf(Op::Fconst { ty: *ty, bits: bits & mask(*ty) }, salt))
        }
        Term::Const(ty, imm) => egraph.add(ENode::leaf(Op::Iconst { ty: *ty, imm: imm & mask(*ty) }, salt)),
        Term::Node(op, kids) => {
            let kids: Vec<Id> = kids.iter().map(|k| build(egraph, k, salt)).collect();
            egraph.add(ENode::new(op.clone(), &kids, salt))
        }
    }
}

use egg::Language as _;

fn konst(eg: &EGraph, id: Id) -> Option<u64> {
    eg[id].data.konst
}

fn same(eg: &EGraph, a: Id, b: Id) -> bool {
    eg.find(a) == eg.find(b)
}

/// The operator, operand type and operands of a binary node.
fn bin(n: &ENode) -> Option<(BinaryOp, Type, Id, Id)> {
    match n.op {
        Op::Binary { op, ty } => Some((op, ty, n.children()[0], n.children()[1])),
        _ => None,
    }
}

/// For `op` nodes with a constant operand equal to `k` on the right (or, if
/// `commutes`, on either side), the other operand.
fn with_const(
    eg: &EGraph,
    n: &ENode,
    ops: &[BinaryOp],
    k: impl Fn(Type) -> u64,
    commutes: bool,
) -> Option<(Type, Id, Id)> {
    let (op, ty, a, b) = bin(n)?;
    if !ops.contains(&op) {
        return None;
    }
    let want = k(ty);
    if konst(eg, b) == Some(want) {
        Some((ty, a, b))
    } else if commutes && konst(eg, a) == Some(want) {
        Some((ty, b, a))
    } else {
        None
    }
}

/// A class whose value is a known integer or float constant gets an iconst
/// or fconst (with exactly the evaluators' bits).
fn const_fold(eg: &EGraph, class: Id, n: &ENode) -> Option<Term> {
    let is_const = |m: &ENode| matches!(m.op, Op::Iconst { .. } | Op::Fconst { .. });
    if is_const(n) {
        return None;
    }
    let data = &eg[class].data;
    let k = data.konst?;
    if !(data.ty.is_int() || data.ty.is_float()) || eg[class].nodes.iter().any(is_const) {
        return None;
    }
    Some(Term::Const(data.ty, k))
}

fn add_zero(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    with_const(eg, n, &[BinaryOp::Add], |_| 0, true).map(|(_, x, _)| Term::Class(x))
}

fn sub_zero(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    with_const(eg, n, &[BinaryOp::Sub], |_| 0, false).map(|(_, x, _)| Term::Class(x))
}

fn sub_self(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    match bin(n)? {
        (BinaryOp::Sub, ty, a, b) if same(eg, a, b) => Some(Term::Const(ty, 0)),
        _ => None,
    }
}

fn mul_one(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    with_const(eg, n, &[BinaryOp::Mul], |_| 1, true).map(|(_, x, _)| Term::Class(x))
}

fn mul_zero(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    with_const(eg, n, &[BinaryOp::Mul], |_| 0, true).map(|(ty, _, _)| Term::Const(ty, 0))
}

fn div_one(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    with_const(eg, n, &[BinaryOp::DivS, BinaryOp::DivU], |_| 1, false).map(|(_, x, _)| Term::Class(x))
}

/// The IR's division is total: `x / 0 = 0` (the frontend traps before).
fn div_by_zero(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    with_const(eg, n, &[BinaryOp::DivS, BinaryOp::DivU], |_| 0, false).map(|(ty, _, _)| Term::Const(ty, 0))
}

fn rem_one(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    with_const(eg, n, &[BinaryOp::RemS, BinaryOp::RemU], |_| 1, false).map(|(ty, _, _)| Term::Const(ty, 0))
}

/// `x % 0 = x` in the IR.
fn rem_by_zero(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    with_const(eg, n, &[BinaryOp::RemS, BinaryOp::RemU], |_| 0, false).map(|(_, x, _)| Term::Class(x))
}

fn and_zero(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    with_const(eg, n, &[BinaryOp::And], |_| 0, true).map(|(ty, _, _)| Term::Const(ty, 0))
}

fn and_ones(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    with_const(eg, n, &[BinaryOp::And], mask, true).map(|(_, x, _)| Term::Class(x))
}

fn or_zero(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    with_const(eg, n, &[BinaryOp::Or], |_| 0, true).map(|(_, x, _)| Term::Class(x))
}

fn or_ones(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    with_const(eg, n, &[BinaryOp::Or], mask, true).map(|(ty, _, _)| Term::Const(ty, mask(ty)))
}

fn xor_zero(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    with_const(eg, n, &[BinaryOp::Xor], |_| 0, true).map(|(_, x, _)| Term::Class(x))
}

fn and_or_self(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    match bin(n)? {
        (BinaryOp::And | BinaryOp::Or, _, a, b) if same(eg, a, b) => Some(Term::Class(a)),
        _ => None,
    }
}

fn xor_self(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    match bin(n)? {
        (BinaryOp::Xor, ty, a, b) if same(eg, a, b) => Some(Term::Const(ty, 0)),
        _ => None,
    }
}

const SHIFTS: [BinaryOp; 5] = [BinaryOp::Shl, BinaryOp::ShrS, BinaryOp::ShrU, BinaryOp::Rotl, BinaryOp::Rotr];

/// Shift amounts are taken modulo the bit width: `x << 32` is `x` for i32.
fn shift_by_zero(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    match bin(n)? {
        (op, ty, a, b) if SHIFTS.contains(&op) && konst(eg, b)? % fold::bits(ty) as u64 == 0 => Some(Term::Class(a)),
        _ => None,
    }
}

fn shift_of_zero(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    match bin(n)? {
        (op, ty, a, _) if SHIFTS.contains(&op) && konst(eg, a)? == 0 => Some(Term::Const(ty, 0)),
        _ => None,
    }
}

fn icmp_self(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    match n.op {
        Op::Icmp { cc, .. } if same(eg, n.children()[0], n.children()[1]) => {
            Some(Term::Const(Type::I32, fold::icmp_reflexive(cc) as u64))
        }
        _ => None,
    }
}

/// `eqz (icmp cc a, b)` → `icmp !cc a, b`.
fn eqz_icmp(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    let Op::Unary { op: UnaryOp::Eqz, .. } = n.op else { return None };
    eg[n.children()[0]].nodes.iter().find_map(|m| match m.op {
        Op::Icmp { cc, ty } => Some(Term::Node(
            Op::Icmp { cc: IntCC::invert(cc), ty },
            vec![Term::Class(m.children()[0]), Term::Class(m.children()[1])],
        )),
        _ => None,
    })
}

fn select_const_cond(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    let Op::Select = n.op else { return None };
    let c = konst(eg, n.children()[0])?;
    Some(Term::Class(n.children()[if c != 0 { 1 } else { 2 }]))
}

fn select_same_arms(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    match n.op {
        Op::Select if same(eg, n.children()[1], n.children()[2]) => Some(Term::Class(n.children()[1])),
        _ => None,
    }
}

/// `select (eqz c), a, b` → `select c, b, a` for an i32 `c`.
fn select_eqz(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    let Op::Select = n.op else { return None };
    let [c, a, b] = [n.children()[0], n.children()[1], n.children()[2]];
    eg[c].nodes.iter().find_map(|m| match m.op {
        Op::Unary { op: UnaryOp::Eqz, ty: Type::I32 } => {
            Some(Term::Node(Op::Select, vec![Term::Class(m.children()[0]), Term::Class(b), Term::Class(a)]))
        }
        _ => None,
    })
}

fn addr_add_zero(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    match n.op {
        Op::AddrAdd { .. } if konst(eg, n.children()[1]) == Some(0) => Some(Term::Class(n.children()[0])),
        _ => None,
    }
}

/// `addr_add (addr_add b, c1), c2` → `addr_add b, c1 + c2` when `c1 + c2`
/// fits in 32 bits. Both constants are zero-extended, so the native sum is
/// exact; if it does not fit an i32 the rewrite would wrap, so it is not
/// done. (Never `addr_add b, (x + c)` → `addr_add (addr_add b, x), c`: the
/// wasm index sum wraps modulo 2^32, native addresses do not.)
fn addr_add_fold(eg: &EGraph, _: Id, n: &ENode) -> Option<Term> {
    let Op::AddrAdd { mem } = n.op else { return None };
    let c2 = konst(eg, n.children()[1])?;
    eg[n.children()[0]].nodes.iter().find_map(|m| match m.op {
        Op::AddrAdd { mem: inner } if inner == mem => {
            let c1 = konst(eg, m.children()[1])?;
            let sum = c1.checked_add(c2).filter(|&s| s <= u32::MAX as u64)?;
            Some(Term::Node(Op::AddrAdd { mem }, vec![Term::Class(m.children()[0]), Term::Const(Type::I32, sum)]))
        }
        _ => None,
    })
}
