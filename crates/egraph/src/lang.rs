//! The e-graph language: one e-node per pure IR instruction kind, carrying
//! the IR data (opcode, operand type, memory index) so rules can match on it,
//! plus opaque leaves for values the e-graph may not look into.

use crate::fold;
use bulkhead_ir::{
    BinaryOp, ConvertOp, FloatBinaryOp, FloatCC, FloatUnaryOp, FuncIdx, IntCC, MemIdx, SigIdx, Type, UnaryOp, Value,
};
use core::cmp::Ordering;
use egg::{Analysis, DidMerge, Id, Language};

/// The operator of an e-node (everything but its children).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Integer constant; `imm` holds the bits (i32 constants are < 2^32).
    Iconst {
        ty: Type,
        imm: u64,
    },
    /// `ty` is the operand type.
    Unary {
        op: UnaryOp,
        ty: Type,
    },
    Binary {
        op: BinaryOp,
        ty: Type,
    },
    /// `ty` is the operand type; the result is i32.
    Icmp {
        cc: IntCC,
        ty: Type,
    },
    /// Children: condition, value if nonzero, value if zero.
    Select,
    /// Float constant; `bits` holds the IEEE bits (the low 32 for f32).
    Fconst {
        ty: Type,
        bits: u64,
    },
    /// A conversion from `from` to `to`.
    Convert {
        op: ConvertOp,
        from: Type,
        to: Type,
    },
    /// `ty` is the operand (and result) type.
    FUnary {
        op: FloatUnaryOp,
        ty: Type,
    },
    FBinary {
        op: FloatBinaryOp,
        ty: Type,
    },
    /// `ty` is the operand type; the result is i32.
    Fcmp {
        cc: FloatCC,
        ty: Type,
    },
    MemBase {
        mem: MemIdx,
    },
    /// The reservation of memory `mem` (i32), read at run time.
    MemMax {
        mem: MemIdx,
    },
    /// The funcref (descriptor address) of a function.
    FuncRef {
        func: FuncIdx,
    },
    /// Child: a non-null funcref; its descriptor's type id.
    FuncRefTypeId,
    /// The type id of a signature.
    TypeId {
        sig: SigIdx,
    },
    /// Children: an `addr<mem>` and an i32 index (zero-extended).
    AddrAdd {
        mem: MemIdx,
    },
    /// A block parameter or a result of an effectful instruction: the
    /// e-graph knows nothing about it but its type.
    Opaque {
        value: Value,
        ty: Type,
    },
}

impl Op {
    /// A total order key (the IR enums are not `Ord`).
    fn key(&self) -> (u8, u64, u64) {
        match self {
            Op::Iconst { ty, imm } => (0, type_key(*ty), *imm),
            Op::Unary { op, ty } => (1, type_key(*ty), *op as u64),
            Op::Binary { op, ty } => (2, type_key(*ty), *op as u64),
            Op::Icmp { cc, ty } => (3, type_key(*ty), *cc as u64),
            Op::Select => (4, 0, 0),
            Op::MemBase { mem } => (5, mem.0 as u64, 0),
            Op::AddrAdd { mem } => (6, mem.0 as u64, 0),
            Op::Opaque { value, ty } => (7, value.0 as u64, type_key(*ty)),
            Op::MemMax { mem } => (8, mem.0 as u64, 0),
            Op::FuncRef { func } => (9, func.0 as u64, 0),
            Op::FuncRefTypeId => (10, 0, 0),
            Op::TypeId { sig } => (11, sig.0 as u64, 0),
            Op::Fconst { ty, bits } => (12, type_key(*ty), *bits),
            Op::Convert { op, from, to } => (13, type_key(*from) << 32 | type_key(*to), *op as u64),
            Op::FUnary { op, ty } => (14, type_key(*ty), *op as u64),
            Op::FBinary { op, ty } => (15, type_key(*ty), *op as u64),
            Op::Fcmp { cc, ty } => (16, type_key(*ty), *cc as u64),
        }
    }

    pub fn arity(&self) -> usize {
        match self {
            Op::Iconst { .. }
            | Op::Fconst { .. }
            | Op::MemBase { .. }
            | Op::MemMax { .. }
            | Op::FuncRef { .. }
            | Op::TypeId { .. }
            | Op::Opaque { .. } => 0,
            Op::Unary { .. } | Op::FuncRefTypeId | Op::Convert { .. } | Op::FUnary { .. } => 1,
            Op::Binary { .. } | Op::Icmp { .. } | Op::AddrAdd { .. } | Op::FBinary { .. } | Op::Fcmp { .. } => 2,
            Op::Select => 3,
        }
    }
}

fn type_key(ty: Type) -> u64 {
    match ty {
        Type::I32 => 0,
        Type::I64 => 1,
        Type::F32 => 2,
        Type::F64 => 3,
        Type::Addr(k) => 4 + k.0 as u64,
    }
}

/// An e-node: operator, children, and a salt that keeps nodes apart when
/// common-subexpression elimination is switched off (0 when it is on).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ENode {
    pub op: Op,
    /// The first `op.arity()` entries are the children; the rest stay 0 so
    /// equality and hashing see only real children.
    args: [Id; 3],
    pub salt: u32,
}

impl ENode {
    pub fn new(op: Op, children: &[Id], salt: u32) -> ENode {
        assert_eq!(children.len(), op.arity(), "wrong number of children for {op:?}");
        let mut args = [Id::from(0usize); 3];
        args[..children.len()].copy_from_slice(children);
        ENode { op, args, salt }
    }

    pub fn leaf(op: Op, salt: u32) -> ENode {
        ENode::new(op, &[], salt)
    }
}

impl PartialOrd for ENode {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ENode {
    fn cmp(&self, other: &Self) -> Ordering {
        self.op
            .key()
            .cmp(&other.op.key())
            .then_with(|| self.children().cmp(other.children()))
            .then_with(|| self.salt.cmp(&other.salt))
    }
}

impl Language for ENode {
    type Discriminant = (u8, u64, u64);

    fn discriminant(&self) -> Self::Discriminant {
        self.op.key()
    }

    fn matches(&self, other: &Self) -> bool {
        self.op == other.op && self.salt == other.salt
    }

    fn children(&self) -> &[Id] {
        &self.args[..self.op.arity()]
    }

    fn children_mut(&mut self) -> &mut [Id] {
        let n = self.op.arity();
        &mut self.args[..n]
    }
}

/// Per e-class facts: the IR type of its values and, when known, its
/// constant value as bits (integers and floats alike; `ty` says which, and
/// 32-bit values have the high bits zero).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassData {
    pub ty: Type,
    pub konst: Option<u64>,
}

/// The e-class analysis. `fold` says whether constants propagate through
/// operations (constant folding on) or are only known from `iconst` nodes.
#[derive(Default)]
pub struct Facts {
    pub fold: bool,
}

pub type EGraph = egg::EGraph<ENode, Facts>;

impl Analysis<ENode> for Facts {
    type Data = ClassData;

    fn make(egraph: &mut EGraph, enode: &ENode, _id: Id) -> ClassData {
        let child = |i: usize| &egraph[enode.children()[i]].data;
        let ty = match &enode.op {
            Op::Iconst { ty, .. } | Op::Opaque { ty, .. } | Op::Fconst { ty, .. } => *ty,
            Op::Convert { to, .. } => *to,
            Op::FUnary { ty, .. } | Op::FBinary { ty, .. } => *ty,
            Op::Unary { op: UnaryOp::Eqz, .. }
            | Op::Icmp { .. }
            | Op::Fcmp { .. }
            | Op::MemMax { .. }
            | Op::FuncRef { .. }
            | Op::FuncRefTypeId
            | Op::TypeId { .. } => Type::I32,
            Op::Unary { ty, .. } | Op::Binary { ty, .. } => *ty,
            Op::Select => child(1).ty,
            Op::MemBase { mem } | Op::AddrAdd { mem } => Type::Addr(*mem),
        };
        let two = |f: &dyn Fn(u64, u64) -> Option<u64>| match (child(0).konst, child(1).konst) {
            (Some(a), Some(b)) => f(a, b),
            _ => None,
        };
        let konst = match &enode.op {
            Op::Iconst { imm, .. } => Some(*imm),
            Op::Fconst { bits, .. } => Some(*bits),
            _ if !egraph.analysis.fold => None,
            Op::Unary { op, ty } => child(0).konst.and_then(|a| fold::unary(*op, *ty, a)),
            Op::Binary { op, ty } => two(&|a, b| fold::binary(*op, *ty, a, b)),
            Op::Icmp { cc, ty } => two(&|a, b| fold::icmp(*cc, *ty, a, b)),
            Op::Convert { op, from, to } => child(0).konst.and_then(|a| fold::convert(*op, *from, *to, a)),
            Op::FUnary { op, ty } => child(0).konst.and_then(|a| fold::funary(*op, *ty, a)),
            Op::FBinary { op, ty } => two(&|a, b| fold::fbinary(*op, *ty, a, b)),
            Op::Fcmp { cc, ty } => two(&|a, b| fold::fcmp(*cc, *ty, a, b)),
            // A constant select of integers becomes an iconst, of floats an
            // fconst (bits unchanged: select does not touch NaN payloads).
            Op::Select if ty.is_int() || ty.is_float() => {
                match (child(0).konst, child(1).konst, child(2).konst) {
                    (Some(c), Some(a), Some(b)) => Some(if c != 0 { a } else { b }),
                    _ => None,
                }
            }
            Op::Select
            | Op::MemBase { .. }
            | Op::MemMax { .. }
            | Op::FuncRef { .. }
            | Op::FuncRefTypeId
            | Op::TypeId { .. }
            | Op::AddrAdd { .. }
            | Op::Opaque { .. } => None,
        };
        ClassData { ty, konst }
    }

    fn merge(&mut self, a: &mut ClassData, b: ClassData) -> DidMerge {
        debug_assert_eq!(a.ty, b.ty, "merged e-classes of different types");
        match (a.konst, b.konst) {
            (None, Some(k)) => {
                a.konst = Some(k);
                DidMerge(true, false)
            }
            (Some(x), Some(y)) => {
                debug_assert_eq!(x, y, "merged e-classes with different constants");
                DidMerge(false, false)
            }
            (Some(_), None) => DidMerge(false, true),
            (None, None) => DidMerge(false, false),
        }
    }
}
