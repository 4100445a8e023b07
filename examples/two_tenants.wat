;; Two tenants fused into one module, each with its own linear memory.
;;
;;   memory 0 ($a): tenant A      memory 1 ($b): tenant B
;;
;; Built as an MPU-isolated firmware image (see README.md, "Firmware image"):
;; every entry runs unprivileged with only the MPU regions of the memories it
;; may touch enabled. `a_attack` is tenant A misbehaving: compiled with
;; `--bounds none` there is no software check, and its store through memory 0
;; at offset 65536 + 256 lands in memory 1 (the planner places the two 64 KiB
;; memories next to each other); the MPU turns it into a MemManage fault and B
;; stays byte-for-byte unchanged. `adapter_copy` is a cross-memory adapter:
;; it touches both memories, so both regions are granted and it works.
(module
  (memory $a 1 1)
  (memory $b 1 1)

  ;; A's bytes: a[i] = (i * 7 + 3) mod 256 for i in [0, 65536).
  (func (export "a_fill") (result i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.const 65536)))
        (i32.store8 $a (local.get $i)
          (i32.add (i32.mul (local.get $i) (i32.const 7)) (i32.const 3)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  ;; Tenant A stores past the end of its own memory.
  (func (export "a_attack") (result i32)
    (i32.store $a (i32.const 65792) (i32.const 0xdeadbeef))
    (i32.const 1))

  ;; B's bytes: b[i] = (i xor (i >> 8)) mod 256.
  (func (export "b_init") (result i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.const 65536)))
        (i32.store8 $b (local.get $i)
          (i32.xor (local.get $i) (i32.shr_u (local.get $i) (i32.const 8))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  ;; Checksum over all of B's bytes: h = h * 31 + b[i] (mod 2^32), h0 = 1.
  (func (export "b_checksum") (result i32)
    (local $i i32) (local $h i32)
    (local.set $h (i32.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.const 65536)))
        (local.set $h
          (i32.add (i32.mul (local.get $h) (i32.const 31))
                   (i32.load8_u $b (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $h))

  ;; Adapter: copy A's bytes [4096, 4096 + 1024) to B's [8192, 8192 + 1024).
  (func (export "adapter_copy") (result i32)
    (memory.copy $b $a (i32.const 8192) (i32.const 4096) (i32.const 1024))
    (i32.const 1024))
)
