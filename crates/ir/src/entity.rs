//! Dense entity references, in the style of cranelift-entity.

use core::fmt;

macro_rules! entity {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);
        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
            pub fn new(index: usize) -> Self {
                $name(u32::try_from(index).expect("entity index overflow"))
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }
    };
}

entity!(Value, "v");
entity!(Block, "block");
entity!(Inst, "inst");
entity!(
    /// A wasm function index (imports first, then defined functions).
    FuncIdx, "fn");
entity!(
    /// A wasm global index.
    GlobalIdx, "g");
entity!(
    /// A wasm data segment index.
    DataIdx, "data");
entity!(
    /// A wasm type (signature) index.
    SigIdx, "sig");
entity!(
    /// A wasm table index.
    TableIdx, "table");
