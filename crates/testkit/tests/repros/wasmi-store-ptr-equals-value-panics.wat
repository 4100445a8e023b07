;; Found by the wasm-smith differential test (seed 0x200181 of
;; BULKHEAD_SMITH_SEED, 2026-11-22 06:15 UTC); minimized by hand.
;; At fault: the REFERENCE, wasmi 2.0.0 (not bulkhead).
;;
;; wasmi panics while translating the module ("internal error: entered
;; unreachable code" in FuncTranslator::choose_store_op_vt,
;; engine/translator/func/mod.rs:2583): an i32.store to a memory other than
;; memory 0 whose address and value are both the value just computed (here
;; `local.tee 2` then `local.get 2`, so both operands resolve to wasmi's
;; accumulator register) has no (reg, reg) store form for non-zero memories
;; and hits `unreachable!()`. With memory 0 it is fine.
;;
;; Expected (spec): run(5, 0) stores popcnt(5) = 2 at mem1[2 + 134] and
;; returns 2. bulkhead (QEMU, every level) does exactly that.
;;
;; Handling: the wasm-smith test counts modules on which the reference
;; panics separately ("reference failed", never passed); the own generator
;; never stores a value to the address it was computed from (its addresses
;; end in a mask). bulkhead's handling is checked against spec-derived values
;; in differential_qemu.rs (`store_whose_address_is_its_value_follows_the_spec`).
;; Worth reporting upstream to wasmi. Replay with:
;;   BULKHEAD_DIFF_WAT=<this file> BULKHEAD_DIFF_CALLS="5,0" \
;;   cargo test -p bulkhead-testkit --test differential_qemu replay -- --ignored --nocapture
(module
  (memory (export "mem0") 1 1)
  (memory (export "mem1") 1 1)
  (func (export "run") (param i32 i32) (result i32)
    (local i32)
    (i32.store 1 offset=134 (local.tee 2 (i32.popcnt (local.get 0))) (local.get 2))
    (local.get 2)))
