//! Dominator tree (Cooper, Harvey, Kennedy: "A Simple, Fast Dominance Algorithm").

use crate::entity::Block;
use crate::function::Function;

pub struct DomTree {
    /// Immediate dominator per block; `None` for the entry and unreachable blocks.
    idom: Vec<Option<Block>>,
    /// Position in reverse postorder; `usize::MAX` when unreachable.
    rpo_index: Vec<usize>,
    rpo: Vec<Block>,
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
            return DomTree { idom, rpo_index, rpo };
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
        DomTree { idom, rpo_index, rpo }
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
    pub fn dominates(&self, a: Block, mut b: Block) -> bool {
        if !self.is_reachable(a) || !self.is_reachable(b) {
            return false;
        }
        loop {
            if a == b {
                return true;
            }
            match self.idom[b.index()] {
                Some(p) => b = p,
                None => return false,
            }
        }
    }
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
