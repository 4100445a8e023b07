//! Dominator tree (Cooper, Harvey, Kennedy: "A Simple, Fast Dominance Algorithm").

use crate::entity::Block;
use crate::function::Function;

pub struct DomTree {
    /// Immediate dominator per block; `None` for the entry and unreachable blocks.
    idom: Vec<Option<Block>>,
    /// Position in reverse postorder; `usize::MAX` when unreachable.
    rpo_index: Vec<usize>,
    rpo: Vec<Block>,
    /// Preorder entry / exit numbers of each block in the dominator tree:
    /// `a` dominates `b` iff `b`'s interval nests in `a`'s, so `dominates`
    /// is O(1) instead of a walk up the idom chain (quadratic overall for
    /// long functions).
    pre: Vec<u32>,
    post: Vec<u32>,
}

impl DomTree {
    pub fn compute(func: &Function) -> DomTree {
        let rpo = func.reverse_postorder();
        let n = func.blocks.len();
        let mut rpo_index = vec![usize::MAX; n];
        for (i, b) in rpo.iter().enumerate() {
            rpo_index[b.index()] = i;
        }
        let preds = func.predecessors();
        let mut idom: Vec<Option<Block>> = vec![None; n];
        if rpo.is_empty() {
            return DomTree { idom, rpo_index, rpo, pre: vec![0; n], post: vec![0; n] };
        }
        let entry = rpo[0];
        idom[entry.index()] = Some(entry);
        let mut changed = true;
        while changed {
            changed = false;
            for &b in rpo.iter().skip(1) {
                let mut new_idom: Option<Block> = None;
                for &p in &preds[b.index()] {
                    if idom[p.index()].is_none() {
                        continue;
                    }
                    new_idom = Some(match new_idom {
                        None => p,
                        Some(cur) => intersect(&idom, &rpo_index, p, cur),
                    });
                }
                if new_idom.is_some() && idom[b.index()] != new_idom {
                    idom[b.index()] = new_idom;
                    changed = true;
                }
            }
        }
        idom[entry.index()] = None;
        let (pre, post) = tree_intervals(&idom, &rpo, entry, n);
        DomTree { idom, rpo_index, rpo, pre, post }
    }

    pub fn idom(&self, b: Block) -> Option<Block> {
        self.idom[b.index()]
    }

    pub fn is_reachable(&self, b: Block) -> bool {
        self.rpo_index[b.index()] != usize::MAX
    }

    pub fn rpo(&self) -> &[Block] {
        &self.rpo
    }

    /// Does `a` dominate `b` (reflexive)?
    pub fn dominates(&self, a: Block, b: Block) -> bool {
        if !self.is_reachable(a) || !self.is_reachable(b) {
            return false;
        }
        self.pre[a.index()] <= self.pre[b.index()] && self.post[b.index()] <= self.post[a.index()]
    }
}

/// Entry and exit numbers of an iterative depth-first walk of the dominator
/// tree (children in reverse postorder).
fn tree_intervals(idom: &[Option<Block>], rpo: &[Block], entry: Block, n: usize) -> (Vec<u32>, Vec<u32>) {
    let mut children: Vec<Vec<Block>> = vec![Vec::new(); n];
    for &b in rpo.iter().skip(1) {
        if let Some(parent) = idom[b.index()] {
            children[parent.index()].push(b);
        }
    }
    let mut pre = vec![0u32; n];
    let mut post = vec![0u32; n];
    let mut clock = 0u32;
    let mut stack: Vec<(Block, usize)> = vec![(entry, 0)];
    pre[entry.index()] = clock;
    while let Some((b, next)) = stack.last_mut() {
        if let Some(&c) = children[b.index()].get(*next) {
            *next += 1;
            clock += 1;
            pre[c.index()] = clock;
            stack.push((c, 0));
        } else {
            clock += 1;
            post[b.index()] = clock;
            stack.pop();
        }
    }
    (pre, post)
}

fn intersect(idom: &[Option<Block>], rpo_index: &[usize], mut a: Block, mut b: Block) -> Block {
    while a != b {
        while rpo_index[a.index()] > rpo_index[b.index()] {
            a = idom[a.index()].expect("processed block has idom");
        }
        while rpo_index[b.index()] > rpo_index[a.index()] {
            b = idom[b.index()].expect("processed block has idom");
        }
    }
    a
}
