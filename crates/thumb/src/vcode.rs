//! `VCode`: the lowered function as blocks of [`MInst`] over virtual
//! registers, in emission order, implementing [`regalloc2::Function`].

use crate::machinst::{BlockIndex, MInst, Reg};
use regalloc2::{Block, Inst, InstRange, Operand, PRegSet, RegClass, VReg};

/// A block under construction (see [`VCode::new`]).
#[derive(Clone, Debug, Default)]
pub struct VBlockBuilder {
    pub params: Vec<VReg>,
    pub insts: Vec<MInst>,
    /// Successors (in the order of the terminator's targets) and the
    /// arguments passed to each successor's parameters.
    pub succs: Vec<(BlockIndex, Vec<VReg>)>,
}

pub struct VCode {
    pub insts: Vec<MInst>,
    operands: Vec<Operand>,
    operand_ranges: Vec<(u32, u32)>,
    clobbers: Vec<PRegSet>,
    block_ranges: Vec<(u32, u32)>,
    block_params: Vec<Vec<VReg>>,
    block_succs: Vec<Vec<Block>>,
    block_preds: Vec<Vec<Block>>,
    branch_args: Vec<Vec<Vec<VReg>>>,
    num_vregs: usize,
}

impl VCode {
    /// Flattens the blocks (block 0 is the entry) into instruction order.
    pub fn new(blocks: Vec<VBlockBuilder>, num_vregs: usize) -> VCode {
        let mut v = VCode {
            insts: Vec::new(),
            operands: Vec::new(),
            operand_ranges: Vec::new(),
            clobbers: Vec::new(),
            block_ranges: Vec::new(),
            block_params: Vec::new(),
            block_succs: Vec::new(),
            block_preds: vec![Vec::new(); blocks.len()],
            branch_args: Vec::new(),
            num_vregs,
        };
        for (bi, b) in blocks.into_iter().enumerate() {
            let start = v.insts.len() as u32;
            for inst in b.insts {
                let ostart = v.operands.len() as u32;
                inst.operands(&mut v.operands);
                v.operand_ranges.push((ostart, v.operands.len() as u32));
                v.clobbers.push(inst.clobbers());
                v.insts.push(inst);
            }
            v.block_ranges.push((start, v.insts.len() as u32));
            v.block_params.push(b.params);
            let mut succs = Vec::new();
            let mut args = Vec::new();
            for (s, a) in b.succs {
                succs.push(Block::new(s as usize));
                v.block_preds[s as usize].push(Block::new(bi));
                args.push(a);
            }
            v.block_succs.push(succs);
            v.branch_args.push(args);
        }
        v
    }

    pub fn num_blocks(&self) -> usize {
        self.block_ranges.len()
    }

    pub fn block_range(&self, b: usize) -> core::ops::Range<usize> {
        let (s, e) = self.block_ranges[b];
        s as usize..e as usize
    }

    pub fn vreg_count(&self) -> usize {
        self.num_vregs
    }
}

pub fn vreg(index: usize) -> Reg {
    Reg::Virt(VReg::new(index, RegClass::Int))
}

impl regalloc2::Function for VCode {
    fn num_insts(&self) -> usize {
        self.insts.len()
    }
    fn num_blocks(&self) -> usize {
        self.block_ranges.len()
    }
    fn entry_block(&self) -> Block {
        Block::new(0)
    }
    fn block_insns(&self, block: Block) -> InstRange {
        let (s, e) = self.block_ranges[block.index()];
        InstRange::new(Inst::new(s as usize), Inst::new(e as usize))
    }
    fn block_succs(&self, block: Block) -> &[Block] {
        &self.block_succs[block.index()]
    }
    fn block_preds(&self, block: Block) -> &[Block] {
        &self.block_preds[block.index()]
    }
    fn block_params(&self, block: Block) -> &[VReg] {
        &self.block_params[block.index()]
    }
    fn is_ret(&self, insn: Inst) -> bool {
        self.insts[insn.index()].is_ret()
    }
    fn is_branch(&self, insn: Inst) -> bool {
        self.insts[insn.index()].is_branch()
    }
    fn branch_blockparams(&self, block: Block, _insn: Inst, succ_idx: usize) -> &[VReg] {
        &self.branch_args[block.index()][succ_idx]
    }
    fn inst_operands(&self, insn: Inst) -> &[Operand] {
        let (s, e) = self.operand_ranges[insn.index()];
        &self.operands[s as usize..e as usize]
    }
    fn inst_clobbers(&self, insn: Inst) -> PRegSet {
        self.clobbers[insn.index()]
    }
    fn num_vregs(&self) -> usize {
        self.num_vregs
    }
    fn spillslot_size(&self, _regclass: RegClass) -> usize {
        1
    }
}
