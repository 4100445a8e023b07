//! The bulkhead SSA IR.
//!
//! Functions are graphs of blocks with parameters (no phi nodes). Every value
//! has a [`Type`]; addresses into linear memory have type `addr<k>`, so the
//! memory an access touches is part of the type of its address and the
//! verifier rejects any mix of memories.

mod builder;
pub mod dominance;
mod entity;
mod function;
mod inst;
pub mod interp;
pub mod print;
mod types;
pub mod verify;

pub use builder::FunctionBuilder;
pub use entity::{Block, DataIdx, FuncIdx, GlobalIdx, Inst, SigIdx, TableIdx, Value};
pub use function::{BlockData, Function, InstNode, Signature, ValueData, ValueDef};
pub use inst::*;
pub use types::{MemIdx, Type};
pub use verify::{verify, verify_with, CalleeSignatures, VerifierError};

#[cfg(test)]
mod tests;
