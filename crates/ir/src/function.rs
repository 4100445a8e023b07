//! A function: values, instructions and blocks in one arena, in layout order.

use crate::entity::{Block, FuncIdx, Inst, Value};
use crate::inst::InstData;
use crate::types::Type;
use smallvec::SmallVec;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Signature {
    pub params: Vec<Type>,
    pub results: Vec<Type>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ValueDef {
    /// The `n`th result of an instruction.
    Result(Inst, u32),
    /// The `n`th parameter of a block.
    Param(Block, u32),
}

#[derive(Clone, Debug)]
pub struct ValueData {
    pub ty: Type,
    pub def: ValueDef,
}

#[derive(Clone, Debug, Default)]
pub struct BlockData {
    pub params: Vec<Value>,
    /// Instructions in program order; the last one is the terminator.
    pub insts: Vec<Inst>,
}

#[derive(Clone, Debug)]
pub struct InstNode {
    pub data: InstData,
    pub results: SmallVec<[Value; 1]>,
    /// Byte offset of the originating wasm operator in the module (for
    /// diagnostics and debug info); 0 when synthesized.
    pub srcloc: u32,
}

#[derive(Clone, Debug)]
pub struct Function {
    /// Which wasm function this is (for diagnostics and symbols).
    pub index: FuncIdx,
    pub name: String,
    pub sig: Signature,
    pub values: Vec<ValueData>,
    pub insts: Vec<InstNode>,
    pub blocks: Vec<BlockData>,
    /// Block order; `layout[0]` is the entry block, whose parameters are the
    /// function's parameters.
    pub layout: Vec<Block>,
}

impl Function {
    pub fn new(index: FuncIdx, name: impl Into<String>, sig: Signature) -> Self {
        Function {
            index,
            name: name.into(),
            sig,
            values: Vec::new(),
            insts: Vec::new(),
            blocks: Vec::new(),
            layout: Vec::new(),
        }
    }

    pub fn entry(&self) -> Block {
        self.layout[0]
    }

    pub fn value_type(&self, v: Value) -> Type {
        self.values[v.index()].ty
    }

    pub fn value_def(&self, v: Value) -> ValueDef {
        self.values[v.index()].def
    }

    pub fn inst(&self, i: Inst) -> &InstData {
        &self.insts[i.index()].data
    }

    pub fn inst_results(&self, i: Inst) -> &[Value] {
        &self.insts[i.index()].results
    }

    pub fn block_params(&self, b: Block) -> &[Value] {
        &self.blocks[b.index()].params
    }

    pub fn block_insts(&self, b: Block) -> &[Inst] {
        &self.blocks[b.index()].insts
    }

    pub fn terminator(&self, b: Block) -> Option<Inst> {
        self.blocks[b.index()].insts.last().copied().filter(|&i| self.inst(i).is_terminator())
    }

    pub fn successors(&self, b: Block) -> SmallVec<[Block; 2]> {
        self.terminator(b).map(|t| self.inst(t).successors()).unwrap_or_default()
    }

    pub fn create_block(&mut self) -> Block {
        let b = Block::new(self.blocks.len());
        self.blocks.push(BlockData::default());
        b
    }

    pub fn append_block_param(&mut self, b: Block, ty: Type) -> Value {
        let n = self.blocks[b.index()].params.len() as u32;
        let v = Value::new(self.values.len());
        self.values.push(ValueData { ty, def: ValueDef::Param(b, n) });
        self.blocks[b.index()].params.push(v);
        v
    }

    /// Creates an instruction (not yet placed in a block) with results of
    /// the given types.
    pub fn make_inst(&mut self, data: InstData, result_types: &[Type], srcloc: u32) -> Inst {
        let inst = Inst::new(self.insts.len());
        let results = result_types
            .iter()
            .enumerate()
            .map(|(n, &ty)| {
                let v = Value::new(self.values.len());
                self.values.push(ValueData { ty, def: ValueDef::Result(inst, n as u32) });
                v
            })
            .collect();
        self.insts.push(InstNode { data, results, srcloc });
        inst
    }

    pub fn append_inst(&mut self, b: Block, inst: Inst) {
        self.blocks[b.index()].insts.push(inst);
    }

    /// Blocks in reverse postorder from the entry (unreachable blocks omitted).
    pub fn reverse_postorder(&self) -> Vec<Block> {
        let mut visited = vec![false; self.blocks.len()];
        let mut post = Vec::with_capacity(self.blocks.len());
        let mut stack: Vec<(Block, usize)> = Vec::new();
        if self.layout.is_empty() {
            return post;
        }
        let entry = self.entry();
        visited[entry.index()] = true;
        stack.push((entry, 0));
        while let Some((b, next)) = stack.last_mut() {
            let succs = self.successors(*b);
            if let Some(&s) = succs.get(*next) {
                *next += 1;
                if !visited[s.index()] {
                    visited[s.index()] = true;
                    stack.push((s, 0));
                }
            } else {
                post.push(*b);
                stack.pop();
            }
        }
        post.reverse();
        post
    }

    /// Predecessor lists indexed by block (one entry per edge).
    pub fn predecessors(&self) -> Vec<Vec<Block>> {
        let mut preds = vec![Vec::new(); self.blocks.len()];
        for &b in &self.layout {
            for s in self.successors(b) {
                preds[s.index()].push(b);
            }
        }
        preds
    }

    /// Drops blocks unreachable from the entry from the layout.
    pub fn remove_unreachable_blocks(&mut self) {
        let rpo = self.reverse_postorder();
        let mut live = vec![false; self.blocks.len()];
        for b in &rpo {
            live[b.index()] = true;
        }
        self.layout.retain(|b| live[b.index()]);
    }

    pub fn num_insts_in_layout(&self) -> usize {
        self.layout.iter().map(|b| self.blocks[b.index()].insts.len()).sum()
    }
}
