//! bulkhead test tooling: running compiled modules on QEMU Cortex-M boards
//! ([`qemu`]) and the `.wast` spec-test runner ([`wast_runner`], binary
//! `wast`).

pub mod qemu;
pub mod difftest;

pub use qemu::{Action, Board, Call, HarnessError, LinkedReport, ObjectModule, Outcome, RunReport, Step, Val, ValType};
#[cfg(feature = "facade")]
pub mod wast_runner;
