//! Runs routines on the IR interpreter for the tests.

use bulkhead_ir::interp::{self, NoCalls, State, Val};

/// Runs the routine `name` on `args`; panics (failing the test) if the
/// routine is missing, does not verify, or faults.
pub(crate) fn run(name: &str, args: &[Val]) -> Val {
    let f = crate::routine(name).unwrap_or_else(|| panic!("no routine {name}"));
    if let Err(e) = bulkhead_ir::verify(&f) {
        panic!("{name} does not verify: {e}");
    }
    let out = interp::run(&f, args, &mut State::default(), &mut NoCalls, 1_000_000)
        .unwrap_or_else(|e| panic!("{name}({args:?}) faulted: {e}"));
    assert_eq!(out.len(), 1, "{name} returns one value");
    out[0]
}
