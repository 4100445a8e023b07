//! `--bounds mask` on QEMU: in-bounds accesses behave as in wasm,
//! out-of-bounds ones wrap into the memory's own power-of-two span (the
//! widest access at its last byte ends in the tail guard) and never touch
//! the neighbouring memory; the same calls trap with `--bounds checked`.

use bulkhead::{BoundsMode, Compiler, Options};
use bulkhead_testkit::qemu::{fnv1a64, run_module};
use bulkhead_testkit::{Board, Call, Outcome, Val, ValType};
use std::time::Duration;

/// Memory 0 has 3 pages (reservation 3 pages, mask span 4 pages), memory 1
/// sits next to it; `load64_1` reads memory 1 so its bytes can be checked.
const MODULE: &str = r#"
(module
  (memory $a 3 3)
  (memory $b 1 1)
  (data (memory $b) (i32.const 0) "neighbour")
  (func (export "store32") (param i32 i32) (i32.store $a offset=4 (local.get 0) (local.get 1)))
  (func (export "load32") (param i32) (result i32) (i32.load $a offset=4 (local.get 0)))
  (func (export "store64") (param i32 i64) (i64.store $a (local.get 0) (local.get 1)))
  (func (export "load64") (param i32) (result i64) (i64.load $a (local.get 0)))
  (func (export "store8") (param i32 i32) (i32.store8 $a (local.get 0) (local.get 1)))
  (func (export "load8") (param i32) (result i32) (i32.load8_u $a (local.get 0)))
  (func (export "fill") (param i32 i32 i32) (memory.fill $a (local.get 0) (local.get 1) (local.get 2)))
  (func (export "load64_1") (param i32) (result i64) (i64.load $b (local.get 0))))
"#;

const PAGE: u32 = 65536;
const SPAN: u32 = 4 * PAGE;

fn compile(board: Board, bounds: BoundsMode) -> bulkhead::Artifact {
    Compiler::new(Options { target: board.target_triple().into(), bounds, name: "m".into(), ..Options::default() })
        .compile(MODULE.as_bytes())
        .unwrap_or_else(|e| panic!("{board}: {e}"))
}

fn call(export: &str, params: Vec<Val>, results: Vec<ValType>) -> Call {
    Call { export: export.into(), params, results }
}

fn calls() -> Vec<Call> {
    use Val::{I32, I64};
    vec![
        // 0-1: in bounds, with the static offset.
        call("store32", vec![I32(100), I32(0xdead_beef)], vec![]),
        call("load32", vec![I32(100)], vec![ValType::I32]),
        // 2-3: beyond the 3-page size but inside the span: no trap.
        call("store32", vec![I32(3 * PAGE + 12), I32(0x1234_5678)], vec![]),
        call("load32", vec![I32(3 * PAGE + 12)], vec![ValType::I32]),
        // 4-5: beyond the span: wraps to 200 (+ offset 4 = effective 204).
        call("store32", vec![I32(SPAN + 200), I32(0x0bad_cafe)], vec![]),
        call("load32", vec![I32(200)], vec![ValType::I32]),
        // 6-7: the effective address wraps modulo 2^32 before masking.
        call("store8", vec![I32(u32::MAX), I32(0x77)], vec![]),
        call("load8", vec![I32(SPAN - 1)], vec![ValType::I32]),
        // 8-9: an 8-byte access at the last byte of the span ends in the guard.
        call("store64", vec![I32(SPAN - 1), I64(0x0102_0304_0506_0708)], vec![]),
        call("load64", vec![I32(SPAN - 1)], vec![ValType::I64]),
        // 10: bulk operations stay checked.
        call("fill", vec![I32(3 * PAGE - 4), I32(0x55), I32(8)], vec![]),
        // 11: the neighbour is untouched.
        call("load64_1", vec![I32(0)], vec![ValType::I64]),
    ]
}

#[test]
fn masked_accesses_stay_in_their_region_and_checked_ones_trap() {
    let neighbour = u64::from_le_bytes(*b"neighbou");
    for board in [Board::Mps2An385, Board::Mps2An505] {
        let masked = run_module(&compile(board, BoundsMode::Mask), &calls(), board, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{board}: {e}"));
        assert_eq!(masked.instantiate, Ok(()), "{board}");
        let o = &masked.outcomes;
        let ret = |v: Val| Outcome::Returned(vec![v]);
        assert_eq!(o[1], ret(Val::I32(0xdead_beef)), "{board}");
        assert_eq!(o[2], Outcome::Returned(vec![]), "{board}: store past the size but inside the span");
        assert_eq!(o[3], ret(Val::I32(0x1234_5678)), "{board}");
        assert_eq!(o[4], Outcome::Returned(vec![]), "{board}: store past the span wraps");
        assert_eq!(o[5], ret(Val::I32(0x0bad_cafe)), "{board}");
        assert_eq!(o[7], ret(Val::I32(0x77)), "{board}");
        assert_eq!(o[9], ret(Val::I64(0x0102_0304_0506_0708)), "{board}");
        assert_eq!(o[10], Outcome::Trapped(2), "{board}: memory.fill out of bounds traps in mask mode");
        assert_eq!(o[11], ret(Val::I64(neighbour)), "{board}");

        // Memory 0's visible bytes [0, 3 pages), built independently: the
        // writes that landed inside the size (at effective addresses).
        let mut mem0 = vec![0u8; 3 * PAGE as usize];
        mem0[104..108].copy_from_slice(&0xdead_beefu32.to_le_bytes());
        mem0[204..208].copy_from_slice(&0x0bad_cafeu32.to_le_bytes());
        let mut mem1 = vec![0u8; PAGE as usize];
        mem1[..9].copy_from_slice(b"neighbour");
        assert_eq!(masked.memories, vec![(3 * PAGE as u64, fnv1a64(&mem0)), (PAGE as u64, fnv1a64(&mem1))], "{board}");

        // Control: the same calls with precise bounds checks trap where
        // mask mode wrapped.
        let checked = run_module(&compile(board, BoundsMode::Checked), &calls(), board, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{board}: {e}"));
        let o = &checked.outcomes;
        assert_eq!(o[1], Outcome::Returned(vec![Val::I32(0xdead_beef)]), "{board}");
        for i in [2, 4, 6, 8] {
            assert_eq!(o[i], Outcome::Trapped(2), "{board}: checked call {i}");
        }
    }
}
