//! The QEMU harness on gcc-compiled stand-ins that follow the embedder ABI
//! (exports `NAME_<export>`, `NAME__instantiate`, `NAME__memories`, traps as
//! `UDF #code`). Independent of the compiler.

use bulkhead_testkit::qemu::{compile_c_standin, fnv1a64, run_object};
use bulkhead_testkit::{Action, Board, Call, ObjectModule, Outcome, Val, ValType};
use std::time::Duration;

/// A module `m` with two memories (64 KiB and 128 KiB reserved).
const STANDIN: &str = r#"
#include <stdint.h>
struct bh_memory { uint8_t *base; uint32_t *size; uint32_t max; };
uint8_t m_mem0[65536] __attribute__((section(".bulkhead.mem.0"), aligned(65536)));
uint8_t m_mem1[131072] __attribute__((section(".bulkhead.mem.1"), aligned(131072)));
uint32_t m_mem0_size, m_mem1_size;
const struct bh_memory m__memories[2] = {
    { m_mem0, &m_mem0_size, sizeof m_mem0 },
    { m_mem1, &m_mem1_size, sizeof m_mem1 },
};
int32_t m_counter;
int64_t m_big = 0x1122334455667788ll;

int32_t m__instantiate(void) {
    for (uint32_t i = 0; i < sizeof m_mem0; i++) m_mem0[i] = 0;
    for (uint32_t i = 0; i < sizeof m_mem1; i++) m_mem1[i] = 0;
    m_mem0_size = 65536;
    m_mem1_size = 65536;
    m_counter = 0;
    return 0;
}
int32_t m_add(int32_t a, int32_t b) { return a + b; }
int32_t m_div(int32_t a, int32_t b) {
    if (b == 0) __asm__ volatile("udf #3");
    return a / b;
}
void m_unreachable(void) { __asm__ volatile("udf #1"); }
/* Trap inside an IT block, deep in a call chain with callee-saved registers live. */
int32_t m_trap_in_it(int32_t x) {
    int32_t r;
    __asm__ volatile("push {r4-r11}\n\tmov r4, #0xdead\n\tmov r11, #0xbeef\n\tcmp %1, #0\n\tit eq\n\tudfeq #2\n\tadd %0, %1, #1\n\tpop {r4-r11}"
                     : "=r"(r) : "r"(x) : "cc");
    return r;
}
int32_t m_inc(void) { return ++m_counter; }
void m_hang(void) { for (;;) __asm__ volatile(""); }
void m_store(uint32_t k, uint32_t addr, uint32_t v) { (k ? m_mem1 : m_mem0)[addr] = (uint8_t)v; }
int32_t m_grow1(void) { m_mem1_size = 131072; return 1; }
int64_t m_sum6(int32_t a, int64_t b, int32_t c, int32_t d, int64_t e, int32_t f) { return a + b + c + d + e + f; }
int64_t m_mul64(int64_t a, int64_t b) { return a * b; }
float m_fadd(float a, double b, float c) { return a + (float)b + c; }
double m_dmix(int32_t a, double b, float c, double d) { return a + b + c + d; }
void m_bad_load(void) { *(volatile uint32_t *)0xF0000000u; }
int32_t m_recurse(int32_t n) { volatile char buf[256]; buf[0] = (char)n; return m_recurse(n + 1) + buf[0]; }
"#;

fn module(board: Board) -> Vec<u8> {
    compile_c_standin(STANDIN, board, &[]).expect("gcc stand-in")
}

fn call(export: &str, params: Vec<Val>, results: Vec<ValType>) -> Action {
    Action::Invoke(Call { export: export.into(), params, results })
}

fn i32s(vals: &[u32]) -> Vec<Val> {
    vals.iter().map(|v| Val::I32(*v)).collect()
}

#[test]
fn trap_resume_results_and_memories() {
    for board in Board::ALL {
        let object = module(board);
        let m = ObjectModule { object: &object, name: "m", num_memories: 2 };
        let actions = vec![
            call("add", i32s(&[2, 40]), vec![ValType::I32]),
            call("div", i32s(&[7, 0]), vec![ValType::I32]),
            call("div", i32s(&[-7i32 as u32, 2]), vec![ValType::I32]),
            call("unreachable", vec![], vec![]),
            call("trap_in_it", i32s(&[0]), vec![ValType::I32]),
            call("trap_in_it", i32s(&[5]), vec![ValType::I32]),
            call("inc", vec![], vec![ValType::I32]),
            call("inc", vec![], vec![ValType::I32]),
            call("store", i32s(&[0, 3, 0xab]), vec![]),
            call("store", i32s(&[1, 70000, 0x5a]), vec![]),
            call("grow1", vec![], vec![ValType::I32]),
            call(
                "sum6",
                vec![Val::I32(1), Val::I64(0x1_0000_0000), Val::I32(2), Val::I32(3), Val::I64(0x10_0000_0000), Val::I32(4)],
                vec![ValType::I64],
            ),
            call("mul64", vec![Val::I64(0x1_0000_0001), Val::I64(3)], vec![ValType::I64]),
            call(
                "fadd",
                vec![Val::F32(1.5f32.to_bits()), Val::F64(2.25f64.to_bits()), Val::F32(4.0f32.to_bits())],
                vec![ValType::F32],
            ),
            call(
                "dmix",
                vec![Val::I32(1), Val::F64(0.5f64.to_bits()), Val::F32(0.25f32.to_bits()), Val::F64(100.0f64.to_bits())],
                vec![ValType::F64],
            ),
            call("bad_load", vec![], vec![]),
            Action::GetGlobal { export: "counter".into(), ty: ValType::I32 },
            Action::GetGlobal { export: "big".into(), ty: ValType::I64 },
            call("add", i32s(&[1, 1]), vec![ValType::I32]),
        ];
        let report = run_object(&m, &actions, board, Duration::from_secs(10)).unwrap_or_else(|e| panic!("{board}: {e}"));
        let o = &report.outcomes;
        assert_eq!(report.instantiate, Ok(()), "{board}");
        assert_eq!(o[0], Outcome::Returned(vec![Val::I32(42)]), "{board}");
        assert_eq!(o[1], Outcome::Trapped(3), "{board}");
        assert_eq!(o[2], Outcome::Returned(vec![Val::I32(-3i32 as u32)]), "{board}");
        assert_eq!(o[3], Outcome::Trapped(1), "{board}");
        assert_eq!(o[4], Outcome::Trapped(2), "{board}");
        assert_eq!(o[5], Outcome::Returned(vec![Val::I32(6)]), "{board}");
        assert_eq!(o[6], Outcome::Returned(vec![Val::I32(1)]), "{board}");
        assert_eq!(o[7], Outcome::Returned(vec![Val::I32(2)]), "{board}");
        assert_eq!(o[11], Outcome::Returned(vec![Val::I64(0x11_0000_000a)]), "{board}");
        assert_eq!(o[12], Outcome::Returned(vec![Val::I64(0x3_0000_0003)]), "{board}");
        assert_eq!(o[13], Outcome::Returned(vec![Val::F32(7.75f32.to_bits())]), "{board}");
        assert_eq!(o[14], Outcome::Returned(vec![Val::F64(101.75f64.to_bits())]), "{board}");
        match &o[15] {
            Outcome::Fault(d) => assert!(d.contains("busfault") || d.contains("hardfault") || d.contains("securefault"), "{board}: {d}"),
            other => panic!("{board}: bad load gave {other:?}"),
        }
        assert_eq!(o[16], Outcome::Returned(vec![Val::I32(2)]), "{board}");
        assert_eq!(o[17], Outcome::Returned(vec![Val::I64(0x1122334455667788)]), "{board}");
        assert_eq!(o[18], Outcome::Returned(vec![Val::I32(2)]), "{board}");

        // Independent oracle for the memory hashes: the same bytes built here.
        let mut mem0 = vec![0u8; 65536];
        mem0[3] = 0xab;
        let mut mem1 = vec![0u8; 131072];
        mem1[70000] = 0x5a;
        assert_eq!(report.memories, vec![(65536, fnv1a64(&mem0)), (131072, fnv1a64(&mem1))], "{board}");
        eprintln!("{board}: build {:?}, run {:?}", report.build_time, report.run_time);
    }
}

#[test]
fn hung_call_is_killed_and_reported() {
    let board = Board::default();
    let object = module(board);
    let m = ObjectModule { object: &object, name: "m", num_memories: 2 };
    let actions = vec![
        call("inc", vec![], vec![ValType::I32]),
        call("hang", vec![], vec![]),
        call("inc", vec![], vec![ValType::I32]),
    ];
    let report = run_object(&m, &actions, board, Duration::from_millis(1500)).unwrap();
    assert_eq!(
        report.outcomes,
        vec![Outcome::Returned(vec![Val::I32(1)]), Outcome::Timeout, Outcome::NotReached]
    );
    assert!(report.memories.is_empty());
}

#[test]
fn stack_overflow_is_a_fault_and_the_run_continues() {
    for board in Board::ALL {
        let object = module(board);
        let m = ObjectModule { object: &object, name: "m", num_memories: 2 };
        let actions = vec![call("recurse", i32s(&[0]), vec![ValType::I32]), call("add", i32s(&[3, 4]), vec![ValType::I32])];
        let report = run_object(&m, &actions, board, Duration::from_secs(10)).unwrap();
        assert!(
            matches!(&report.outcomes[0], Outcome::Fault(d) if d.starts_with("stack-overflow")),
            "{board}: {:?}",
            report.outcomes[0]
        );
        assert_eq!(report.outcomes[1], Outcome::Returned(vec![Val::I32(7)]), "{board}");
    }
}

#[test]
fn missing_export_is_a_link_error() {
    let board = Board::default();
    let object = module(board);
    let m = ObjectModule { object: &object, name: "m", num_memories: 2 };
    let err = run_object(&m, &[call("nope", vec![], vec![])], board, Duration::from_secs(5)).unwrap_err();
    assert!(err.to_string().contains("m_nope"), "{err}");
}

/// Module `a` exports a memory and a function; module `b` imports both and
/// the `spectest` module's print function and global. Linked into one image,
/// state is shared in script order.
#[test]
fn linked_modules_share_state_in_step_order() {
    use bulkhead_testkit::Step;
    const A: &str = r#"
#include <stdint.h>
struct bh_memory { uint8_t *base; uint32_t *size; uint32_t max; };
uint8_t a_mem[65536] __attribute__((section(".bulkhead.mem.0"), aligned(65536)));
uint32_t a_mem_size;
const struct bh_memory a__memories[1] = { { a_mem, &a_mem_size, sizeof a_mem } };
int32_t a__instantiate(void) { for (uint32_t i = 0; i < sizeof a_mem; i++) a_mem[i] = 0; a_mem_size = 65536; return 0; }
int32_t a_load(uint32_t addr) { return a_mem[addr]; }
"#;
    const B: &str = r#"
#include <stdint.h>
struct bh_memory { uint8_t *base; uint32_t *size; uint32_t max; };
extern uint8_t a_mem[];
extern uint32_t a_mem_size;
extern int32_t a_load(uint32_t);
extern void spectest_print_i32(int32_t);
extern int32_t spectest_global_i32;
const struct bh_memory b__memories[1] = { { a_mem, &a_mem_size, 65536 } };
int32_t b__instantiate(void) { a_mem[5] = 0x77; return 0; }
void b_store(uint32_t addr, uint32_t v) { spectest_print_i32(v); a_mem[addr] = (uint8_t)v; }
int32_t b_via_a(uint32_t addr) { return a_load(addr) + spectest_global_i32; }
"#;
    const C: &str = r#"
#include <stdint.h>
int32_t c__instantiate(void) { return 2; }
int32_t c_f(void) { return 1; }
"#;
    let board = Board::default();
    let (a, b, c) = (
        compile_c_standin(A, board, &[]).unwrap(),
        compile_c_standin(B, board, &[]).unwrap(),
        compile_c_standin(C, board, &[]).unwrap(),
    );
    let modules = [
        ObjectModule { object: &a, name: "a", num_memories: 1 },
        ObjectModule { object: &b, name: "b", num_memories: 1 },
        ObjectModule { object: &c, name: "c", num_memories: 0 },
    ];
    let load = |addr: u32| Action::Invoke(Call { export: "load".into(), params: vec![Val::I32(addr)], results: vec![ValType::I32] });
    let steps = vec![
        Step::Instantiate(0),
        Step::Act(0, load(5)),
        Step::Instantiate(1), // writes a_mem[5]
        Step::Act(0, load(5)),
        Step::Act(1, Action::Invoke(Call { export: "store".into(), params: vec![Val::I32(9), Val::I32(0x42)], results: vec![] })),
        Step::Act(0, load(9)),
        Step::Act(1, Action::Invoke(Call { export: "via_a".into(), params: vec![Val::I32(9)], results: vec![ValType::I32] })),
        Step::Instantiate(2), // fails with code 2
        Step::Act(2, Action::Invoke(Call { export: "f".into(), params: vec![], results: vec![ValType::I32] })),
    ];
    let report = bulkhead_testkit::qemu::run_linked(&modules, &steps, board, Duration::from_secs(10)).unwrap();
    assert_eq!(
        report.outcomes,
        vec![
            Outcome::Returned(vec![Val::I32(0)]),
            Outcome::Returned(vec![Val::I32(0)]),
            Outcome::Returned(vec![Val::I32(0)]),
            Outcome::Returned(vec![Val::I32(0x77)]),
            Outcome::Returned(vec![]),
            Outcome::Returned(vec![Val::I32(0x42)]),
            Outcome::Returned(vec![Val::I32(0x42 + 666)]),
            Outcome::Returned(vec![Val::I32(2)]),
            Outcome::NotReached,
        ]
    );
    let mut mem = vec![0u8; 65536];
    mem[5] = 0x77;
    mem[9] = 0x42;
    let h = fnv1a64(&mem);
    assert_eq!(report.memories, vec![vec![(65536, h)], vec![(65536, h)], vec![]]);
}
