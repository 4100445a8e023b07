//! The Thumb-2 instruction set: concrete instructions and their encoder.

pub mod asm;
pub mod encode;
pub mod system;
