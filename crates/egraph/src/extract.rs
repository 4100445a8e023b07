//! Extraction: the cheapest e-node of every e-class.
//!
//! Cost of a node = its own cost (roughly Thumb-2 instructions) + the costs
//! of its children's best nodes, computed as a fixpoint over the classes.
//! Shared subterms are counted once per use, which only biases choices, but
//! the sums can grow exponentially with sharing, so costs saturate; ties
//! (including saturated ones) are broken by depth, which strictly grows from
//! child to parent, so the chosen nodes never form a cycle.

use crate::lang::{EGraph, ENode, Op};
use bulkhead_ir::{BinaryOp, Type, UnaryOp};
use egg::{Id, Language};

/// (saturating cost, depth), compared lexicographically.
type Cost = (u64, u32);

pub struct Extraction {
    /// Best node and its cost, indexed by canonical e-class id.
    best: Vec<Option<(Cost, ENode)>>,
}

impl Extraction {
    pub fn compute(egraph: &EGraph) -> Extraction {
        let mut classes: Vec<Id> = egraph.classes().map(|c| c.id).collect();
        // Ascending ids approximate creation order, children first, so most
        // classes settle in the first pass.
        classes.sort();
        let size = classes.iter().map(|&c| usize::from(c) + 1).max().unwrap_or(0);
        let mut best: Vec<Option<(Cost, ENode)>> = vec![None; size];
        loop {
            let mut changed = false;
            for &class in &classes {
                for node in &egraph[class].nodes {
                    let Some(cost) = node_cost(egraph, &best, node) else { continue };
                    let better = match &best[usize::from(class)] {
                        None => true,
                        Some((old, _)) => cost < *old,
                    };
                    if better {
                        let node = node.clone().map_children(|c| egraph.find(c));
                        best[usize::from(class)] = Some((cost, node));
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        Extraction { best }
    }

    /// The chosen node of the class `id` (any id of the class), with
    /// canonical children.
    pub fn best(&self, egraph: &EGraph, id: Id) -> Option<&ENode> {
        self.best.get(usize::from(egraph.find(id)))?.as_ref().map(|(_, n)| n)
    }
}

fn node_cost(egraph: &EGraph, best: &[Option<(Cost, ENode)>], node: &ENode) -> Option<Cost> {
    let mut cost = op_cost(egraph, node);
    let mut depth = 0u32;
    for &c in node.children() {
        let (child_cost, child_depth) = best.get(usize::from(egraph.find(c)))?.as_ref()?.0;
        cost = cost.saturating_add(child_cost);
        depth = depth.max(child_depth.saturating_add(1));
    }
    Some((cost, depth))
}

/// Approximate Thumb-2 instruction count of computing the node once its
/// operands are in registers (i64 works on register pairs; i64 division is
/// a library call).
fn op_cost(egraph: &EGraph, node: &ENode) -> u64 {
    let wide = |ty: Type| ty == Type::I64;
    match &node.op {
        Op::Opaque { .. } => 0,
        Op::Iconst { ty, imm } => {
            let half = |x: u64| if x < 0x1_0000 { 1 } else { 2 };
            if wide(*ty) {
                half(imm & 0xffff_ffff) + half(imm >> 32)
            } else {
                half(*imm)
            }
        }
        Op::MemBase { .. } | Op::AddrAdd { .. } => 1,
        // MOVW/MOVT of the word's address, then a load.
        Op::MemMax { .. } | Op::FuncRefTypeId => 3,
        // MOVW/MOVT.
        Op::FuncRef { .. } | Op::TypeId { .. } => 2,
        Op::Unary { op, ty } => {
            let c = match op {
                UnaryOp::Clz | UnaryOp::Extend8S | UnaryOp::Extend16S | UnaryOp::Extend32S => 1,
                UnaryOp::Ctz | UnaryOp::Eqz => 2,
                UnaryOp::Popcnt => 8,
            };
            if wide(*ty) {
                2 * c
            } else {
                c
            }
        }
        Op::Binary { op, ty } => {
            use BinaryOp::*;
            match (op, wide(*ty)) {
                (Add | Sub | And | Or | Xor | Shl | ShrS | ShrU | Rotr | Mul, false) => 1,
                (Rotl | DivS | DivU, false) => 2,
                (RemS | RemU, false) => 3,
                (Add | Sub | And | Or | Xor, true) => 2,
                (Mul, true) => 4,
                (Shl | ShrS | ShrU | Rotl | Rotr, true) => 6,
                (DivS | DivU | RemS | RemU, true) => 20,
            }
        }
        Op::Icmp { ty, .. } => {
            if wide(*ty) {
                4
            } else {
                2
            }
        }
        Op::Select => {
            let ty = egraph[node.children()[1]].data.ty;
            if wide(ty) {
                3
            } else {
                2
            }
        }
    }
}
