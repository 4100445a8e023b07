//! Extraction: the cheapest e-node of every e-class.
//!
//! Cost of a node = its own cost (roughly Thumb-2 instructions) + the costs
//! of its children's best nodes, computed as a fixpoint over the classes.
//! Shared subterms are counted once per use, which only biases choices, but
//! the sums can grow exponentially with sharing, so costs saturate; ties
//! (including saturated ones) are broken by depth, which strictly grows from
//! child to parent, so the chosen nodes never form a cycle.

use crate::lang::{EGraph, ENode, Op};
use bulkhead_ir::{BinaryOp, ConvertOp, FloatBinaryOp, FloatUnaryOp, Type, UnaryOp};
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

/// A call into the soft-float library (argument moves, BL, the routine's
/// own work): what any float arithmetic costs when the target has no FPU,
/// and the price of an f64 operation on a single-precision FPU. Far above
/// any integer operation, so extraction never trades integer work for
/// float work.
const SOFT_FLOAT_CALL: u64 = 30;

/// Approximate Thumb-2 instruction count of computing the node once its
/// operands are in registers (i64 and f64 work on register pairs; i64
/// division and float arithmetic are library calls on a soft-float target,
/// the conservative assumption: the mid-end does not know the FPU).
fn op_cost(egraph: &EGraph, node: &ENode) -> u64 {
    let wide = |ty: Type| ty.bytes() == 8;
    // A constant's bits, one MOVW (+ MOVT) per 32-bit word.
    let const_cost = |ty: Type, bits: u64| {
        let half = |x: u64| if x < 0x1_0000 { 1 } else { 2 };
        if wide(ty) {
            half(bits & 0xffff_ffff) + half(bits >> 32)
        } else {
            half(bits)
        }
    };
    let pair = |ty: Type, c: u64| if wide(ty) { 2 * c } else { c };
    match &node.op {
        Op::Opaque { .. } => 0,
        Op::Iconst { ty, imm } => const_cost(*ty, *imm),
        Op::Fconst { ty, bits } => const_cost(*ty, *bits),
        // Sign-bit operations are integer bit operations on the (high) word.
        Op::FUnary { op: FloatUnaryOp::Abs | FloatUnaryOp::Neg, .. } => 1,
        Op::FUnary { op: FloatUnaryOp::Sqrt, ty } => pair(*ty, 2 * SOFT_FLOAT_CALL),
        Op::FUnary { ty, .. } => pair(*ty, SOFT_FLOAT_CALL),
        Op::FBinary { op: FloatBinaryOp::Copysign, .. } => 3,
        Op::FBinary { op: FloatBinaryOp::Div, ty } => pair(*ty, 2 * SOFT_FLOAT_CALL),
        Op::FBinary { ty, .. } => pair(*ty, SOFT_FLOAT_CALL),
        Op::Fcmp { ty, .. } => pair(*ty, SOFT_FLOAT_CALL),
        Op::Convert { op, from, to } => match op {
            // Register moves (bitcast on a soft-float target, wrap takes the
            // low word) or one instruction per word.
            ConvertOp::Bitcast | ConvertOp::Wrap => 1,
            ConvertOp::SExtend | ConvertOp::UExtend => 2,
            _ if wide(*from) || wide(*to) => 2 * SOFT_FLOAT_CALL,
            _ => SOFT_FLOAT_CALL,
        },
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
