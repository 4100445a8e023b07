;; Two tenants, two linear memories: a component-adapter-style module.
;;
;; Memory 0 ("tenant_a") is tenant A's buffer, memory 1 ("tenant_b") tenant
;; B's. bulkhead places each in its own section (.bulkhead.mem.0 and
;; .bulkhead.mem.1), aligned so that one MPU region covers it, and the only
;; code that touches both is the adapter below, which copies a message from
;; A to B. A store into B cannot alias a load from A, which the compiler
;; knows from the memory index in each access's address type.
;;
;; Build:  bulkhead compile examples/two_memories.wat -o two_memories.o
;; Link:   see docs/embedder-abi.md
(module
  ;; Tenant A: exactly one 64 KiB page.
  (memory $a (export "tenant_a") 1 1)
  ;; Tenant B: starts with one page, may grow to two.
  (memory $b (export "tenant_b") 1 2)

  ;; How many messages the adapter has delivered.
  (global $delivered (export "delivered") (mut i32) (i32.const 0))

  ;; A's outbox holds a message; B's inbox starts with a header word.
  (data (memory $a) (i32.const 16) "hello from tenant A\00")
  (data (memory $b) (i32.const 0) "INBX")

  ;; Sum of the bytes a[ptr .. ptr+len).
  (func $sum_a (export "sum_a") (param $ptr i32) (param $len i32) (result i32)
    (local $sum i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        (local.set $sum
          (i32.add (local.get $sum) (i32.load8_u $a (local.get $ptr))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
        (br $next)))
    (local.get $sum))

  ;; The adapter: copies the NUL-terminated message at a[src] into b[dst],
  ;; at most $max bytes including the terminator, and returns the number of
  ;; bytes copied. Every load reads A, every store writes B.
  (func $deliver (export "deliver") (param $src i32) (param $dst i32) (param $max i32) (result i32)
    (local $n i32)
    (local $byte i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $n) (local.get $max)))
        (local.set $byte
          (i32.load8_u $a (i32.add (local.get $src) (local.get $n))))
        (i32.store8 $b (i32.add (local.get $dst) (local.get $n)) (local.get $byte))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br_if $next (local.get $byte))))
    (global.set $delivered (i32.add (global.get $delivered) (i32.const 1)))
    (local.get $n))

  ;; Copies $words aligned 32-bit words from a[src] to b[dst].
  (func (export "copy_words") (param $src i32) (param $dst i32) (param $words i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $words)))
        (i32.store $b (local.get $dst) (i32.load $a (local.get $src)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $words (i32.sub (local.get $words) (i32.const 1)))
        (br $next))))

  ;; B's inbox header: the 32-bit word at offset 4 counts received messages.
  (func (export "bump_inbox") (result i32)
    (local $count i32)
    (local.set $count (i32.add (i32.load $b offset=4 (i32.const 0)) (i32.const 1)))
    (i32.store $b offset=4 (i32.const 0) (local.get $count))
    (local.get $count))

  ;; Tenant B's memory in pages, and growing it.
  (func (export "b_pages") (result i32)
    (memory.size $b))
  (func (export "b_grow") (param $pages i32) (result i32)
    (memory.grow $b (local.get $pages)))

  ;; Grows B by one page and delivers A's greeting (at a[16]) to the start of
  ;; the new page. Returns the bytes copied, or -1 when B cannot grow.
  (func (export "deliver_to_new_page") (result i32)
    (local $old_pages i32)
    (local.set $old_pages (memory.grow $b (i32.const 1)))
    (if (i32.eq (local.get $old_pages) (i32.const -1))
      (then (return (i32.const -1))))
    (call $deliver
      (i32.const 16)
      (i32.shl (local.get $old_pages) (i32.const 16))
      (i32.const 64)))

  (func (export "delivered_count") (result i32)
    (global.get $delivered)))
