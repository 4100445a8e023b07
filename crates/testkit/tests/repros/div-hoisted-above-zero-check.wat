;; Found by the differential test (crates/testkit/tests/differential_qemu.rs),
;; seed 0xb01c0018 at -O2; minimized by hand.
;;
;; Expected (wasmi): run(7, 0) traps with code 3 (integer divide by zero);
;;                   run(7, 2) returns 9.
;; Actual (bulkhead -O2 on mps2-an386): run(7, 0) is a UsageFault
;;   (CFSR 0x02000000 = DIVBYZERO), not `UDF #3`; -O0 is correct.
;;
;; Cause (mid-end, crates/egraph): the loop-invariant `udiv v0, v1` is
;; hoisted out of the loop into block0, above the `trapz v1, int_divz` that
;; the frontend put in front of it (which stays in the loop):
;;
;;   block0(v0, v1):  v8 = udiv v0, v1      ; executed before the guard
;;                    jump block3(...)
;;   block3(v2, v3):  trapz v1, int_divz
;;                    ... v9 = iadd v2, v8
;;
;; The IR docs call division total (x/0 = 0, what UDIV gives with
;; CCR.DIV_0_TRP clear), so the hoist is legal under the IR contract, but it
;; makes compiled code fault on any core with CCR.DIV_0_TRP set. The test
;; harness sets DIV_0_TRP on purpose (runtime/harness.c) and the embedder ABI
;; (docs/embedder-abi.md) says nothing about it, so embedders that enable the
;; divide-by-zero trap (common in RTOS fault setups) would get spurious
;; faults. Fix: the mid-end must not speculate div/rem above their guard
;; (treat udiv/sdiv/urem/srem with a divisor not known to be nonzero as not
;; hoistable), or the ABI must require DIV_0_TRP = 0 and the harness clear it.
;;
;; Status (04:20 UTC): FIXED in crates/egraph/src/lib.rs (`must_not_speculate`:
;; a div/rem whose divisor is not a known nonzero constant stays in the
;; effect skeleton), by the egraph owner around 03:55 UTC. This module now
;; agrees at -O0/-O1/-O2; it is kept as a regression case in
;; crates/testkit/tests/differential_qemu.rs
;; (`regressions_found_by_the_differential_test`). Replay with:
;;   BULKHEAD_DIFF_WAT=<this file> BULKHEAD_DIFF_CALLS="7,0;7,2" \
;;   cargo test -p bulkhead-testkit --test differential_qemu replay -- --ignored --nocapture
(module
  (memory (export "mem0") 1 1)
  (func (export "run") (param i32 i32) (result i32)
    (local i32 i32)
    i32.const 3
    local.set 3
    loop
      local.get 2
      local.get 0
      local.get 1
      i32.div_u
      i32.add
      local.set 2
      local.get 3
      i32.const 1
      i32.sub
      local.tee 3
      br_if 0
    end
    local.get 2))
