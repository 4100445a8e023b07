//! Value types. `Addr(k)` is a native address inside linear memory `k`: the
//! memory index is part of the type, so no access can use another memory's base.

use core::fmt;

/// Index of a wasm linear memory in the module's memory index space.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemIdx(pub u32);

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    I32,
    I64,
    F32,
    F64,
    /// A native address into memory `k`, produced only by `mem_base.k` and
    /// `addr_add`.
    Addr(MemIdx),
}

impl Type {
    pub fn is_int(self) -> bool {
        matches!(self, Type::I32 | Type::I64)
    }
    pub fn is_float(self) -> bool {
        matches!(self, Type::F32 | Type::F64)
    }
    pub fn mem(self) -> Option<MemIdx> {
        match self {
            Type::Addr(k) => Some(k),
            _ => None,
        }
    }
    pub fn bytes(self) -> u32 {
        match self {
            Type::I32 | Type::F32 | Type::Addr(_) => 4,
            Type::I64 | Type::F64 => 8,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::I32 => f.write_str("i32"),
            Type::I64 => f.write_str("i64"),
            Type::F32 => f.write_str("f32"),
            Type::F64 => f.write_str("f64"),
            Type::Addr(k) => write!(f, "addr<{}>", k.0),
        }
    }
}

impl fmt::Display for MemIdx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
