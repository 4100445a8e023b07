//! Choice of the function's dominant memory, whose base is pinned in R11.
//!
//! Every access-related instruction (load, store, bounds check, `mem_base`)
//! counts `10^depth` for its memory, where `depth` is the loop nesting depth
//! of its block (natural loops from back edges, via the dominator tree).
//! Only memories whose base is actually materialized (`mem_base` present)
//! are candidates: pinning a base nobody reads would only cost R11.

use bulkhead_ir::dominance::DomTree;
use bulkhead_ir::{Block, Function, InstData};

/// Loop nesting depth per block (0 outside loops and for unreachable blocks).
pub fn loop_depths(func: &Function) -> Vec<u32> {
    let dt = DomTree::compute(func);
    let preds = {
        let mut p = vec![Vec::new(); func.blocks.len()];
        for &b in dt.rpo() {
            for s in func.successors(b) {
                p[s.index()].push(b);
            }
        }
        p
    };
    let mut depth = vec![0u32; func.blocks.len()];
    for &tail in dt.rpo() {
        for head in func.successors(tail) {
            if !dt.dominates(head, tail) {
                continue;
            }
            // Natural loop of the back edge tail -> head.
            let mut in_loop = vec![false; func.blocks.len()];
            in_loop[head.index()] = true;
            let mut stack: Vec<Block> = Vec::new();
            if !in_loop[tail.index()] {
                in_loop[tail.index()] = true;
                stack.push(tail);
            }
            while let Some(b) = stack.pop() {
                for &p in &preds[b.index()] {
                    if !in_loop[p.index()] {
                        in_loop[p.index()] = true;
                        stack.push(p);
                    }
                }
            }
            for (i, &l) in in_loop.iter().enumerate() {
                if l {
                    depth[i] += 1;
                }
            }
        }
    }
    depth
}

/// The memory to pin in R11, if the function materializes any base.
pub fn dominant_memory(func: &Function) -> Option<u32> {
    let depths = loop_depths(func);
    let mut weight: Vec<u64> = Vec::new();
    let mut has_base: Vec<bool> = Vec::new();
    let reachable = func.reverse_postorder();
    for &b in &reachable {
        let w = 10u64.saturating_pow(depths[b.index()].min(12));
        for &i in func.block_insts(b) {
            let mem = match func.inst(i) {
                InstData::MemBase { mem } => {
                    let k = mem.0 as usize;
                    if has_base.len() <= k {
                        has_base.resize(k + 1, false);
                    }
                    has_base[k] = true;
                    Some(mem.0)
                }
                InstData::Load { mem, .. }
                | InstData::Store { mem, .. }
                | InstData::BoundsCheck { mem, .. }
                | InstData::BoundsCheckDyn { mem, .. } => Some(mem.0),
                _ => None,
            };
            if let Some(k) = mem {
                let k = k as usize;
                if weight.len() <= k {
                    weight.resize(k + 1, 0);
                }
                weight[k] = weight[k].saturating_add(w);
            }
        }
    }
    let mut best: Option<(u32, u64)> = None;
    for (k, &w) in weight.iter().enumerate() {
        if !has_base.get(k).copied().unwrap_or(false) {
            continue;
        }
        if best.is_none_or(|(_, bw)| w > bw) {
            best = Some((k as u32, w));
        }
    }
    best.map(|(k, _)| k)
}
