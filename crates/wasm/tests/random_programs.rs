//! Differential test against wasmi on random structured programs: deep
//! nests of blocks, loops, ifs, branches with values, br_table, dead code
//! after branches, locals changed on some paths only, two memories (one
//! with 1-byte pages) and calls. Locals are i32; expressions nest i64 and
//! f32/f64 computations (every operator, loads and i64 stores, trapping
//! conversions) that come back to i32. These exercise the SSA construction
//! and the control-flow translation more than wasm-smith's programs do. Every loop is bounded by a counter local that its
//! body cannot touch, so every program terminates.

mod common;

use bulkhead_wasm::TranslateOptions;
use common::*;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Locals 0-1 are parameters, 2-5 ordinary locals, 6.. loop counters (one
/// per loop nesting level).
const PARAMS: u32 = 2;
const LOCALS: u32 = 4;
const COUNTERS: u32 = 4;
/// An i64 local after the counters, holding values to store.
const I64_LOCAL: u32 = PARAMS + LOCALS + COUNTERS;

#[derive(Clone, Copy, PartialEq)]
enum Label {
    /// A block or if without results: `br` may target it.
    Void,
    /// Anything else (loops, blocks with results): not a branch target here.
    Other,
}

struct Gen<'r> {
    rng: &'r mut Rng,
    out: String,
    labels: Vec<Label>,
    loop_depth: u32,
    /// Functions this one may call (lower indices only: no recursion).
    callable: u32,
    budget: u32,
}

impl Gen<'_> {
    fn emit(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push(' ');
    }

    fn var(&mut self) -> u32 {
        self.rng.below((PARAMS + LOCALS) as u64) as u32
    }

    fn void_label(&mut self) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.labels.len())
            .filter(|&i| self.labels[self.labels.len() - 1 - i] == Label::Void)
            .collect();
        if candidates.is_empty() {
            None
        } else {
            Some(candidates[self.rng.below(candidates.len() as u64) as usize])
        }
    }

    fn address(&mut self, mem: u32) {
        self.expr(2);
        // Mostly in bounds; sometimes not, to compare traps.
        if !self.rng.chance(5) {
            let mask = if mem == 0 { 0xfff } else { 0xff };
            self.emit(&format!("i32.const {mask} i32.and"));
        }
    }

    fn expr(&mut self, depth: u32) {
        self.budget = self.budget.saturating_sub(1);
        let leaf = depth == 0 || self.budget == 0;
        let choice = if leaf { self.rng.below(2) } else { self.rng.below(18) };
        match choice {
            0 => {
                let v = match self.rng.below(4) {
                    0 => self.rng.below(8) as i64,
                    1 => -(self.rng.below(3) as i64) - 1,
                    2 => i32::MIN as i64,
                    _ => self.rng.next() as i32 as i64,
                };
                self.emit(&format!("i32.const {v}"));
            }
            1 => self.local_get(),
            2..=4 => {
                const OPS: [&str; 25] = [
                    "add", "sub", "mul", "div_s", "div_u", "rem_s", "rem_u", "and", "or", "xor", "shl", "shr_s",
                    "shr_u", "rotl", "rotr", "eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s",
                    "ge_u",
                ];
                self.expr(depth - 1);
                self.expr(depth - 1);
                let op = OPS[self.rng.below(OPS.len() as u64) as usize];
                self.emit(&format!("i32.{op}"));
            }
            5 => {
                const OPS: [&str; 6] = ["eqz", "clz", "ctz", "popcnt", "extend8_s", "extend16_s"];
                self.expr(depth - 1);
                let op = OPS[self.rng.below(OPS.len() as u64) as usize];
                self.emit(&format!("i32.{op}"));
            }
            6 => {
                let mem = self.rng.below(2) as u32;
                self.address(mem);
                const LOADS: [&str; 5] = ["load", "load8_s", "load8_u", "load16_s", "load16_u"];
                let op = LOADS[self.rng.below(5) as usize];
                let offset = self.rng.below(8);
                self.emit(&format!("i32.{op} {mem} offset={offset}"));
            }
            7 => {
                self.expr(depth - 1);
                self.expr(depth - 1);
                self.expr(depth - 1);
                self.emit("select");
            }
            8 => {
                // Block with a result, possibly left early by br_if with a value.
                self.emit("block (result i32)");
                self.labels.push(Label::Other);
                self.stmts(depth - 1, 2);
                self.expr(depth - 1);
                if self.rng.chance(50) {
                    self.expr(depth - 1);
                    self.emit("br_if 0 drop");
                    self.expr(depth - 1);
                }
                self.labels.pop();
                self.emit("end");
            }
            9 => {
                self.expr(depth - 1);
                self.emit("if (result i32)");
                self.labels.push(Label::Other);
                self.stmts(depth - 1, 2);
                self.expr(depth - 1);
                self.emit("else");
                self.stmts(depth - 1, 2);
                self.expr(depth - 1);
                self.labels.pop();
                self.emit("end");
            }
            10 => {
                let v = self.var();
                self.expr(depth - 1);
                self.emit(&format!("local.tee {v}"));
            }
            11 => {
                let mem = self.rng.below(2);
                self.emit(&format!("memory.size {mem}"));
            }
            12 => {
                let mem = self.rng.below(2);
                self.expr(depth - 1);
                self.emit(&format!("i32.const 3 i32.and memory.grow {mem}"));
            }
            14 => {
                // An i64 computation brought back to i32.
                const TO_I32: [&str; 6] = ["i32.wrap_i64", "i64.eqz", "i64.lt_s", "i64.ge_u", "i64.ne", "i64.gt_s"];
                let op = TO_I32[self.rng.below(TO_I32.len() as u64) as usize];
                self.expr64(depth - 1);
                if !matches!(op, "i32.wrap_i64" | "i64.eqz") {
                    self.expr64(depth - 1);
                }
                self.emit(op);
            }
            15 => {
                // A float computation brought back to i32 by operations
                // that do not see NaN payloads (the spec leaves those of
                // arithmetic results open).
                let t = if self.rng.chance(50) { "f32" } else { "f64" };
                const TO_I32: [&str; 8] =
                    ["trunc_s", "trunc_u", "trunc_sat_s", "trunc_sat_u", "eq", "ne", "lt", "ge"];
                let op = TO_I32[self.rng.below(TO_I32.len() as u64) as usize];
                self.exprf(t, depth - 1);
                match op.strip_prefix("trunc") {
                    Some(rest) => self.emit(&format!("i32.trunc{}_{t}{}", &rest[..rest.len() - 2], &rest[rest.len() - 2..])),
                    None => {
                        self.exprf(t, depth - 1);
                        self.emit(&format!("{t}.{op}"));
                    }
                }
            }
            13 if self.callable > 0 => {
                let callee = self.rng.below(self.callable as u64);
                self.expr(depth - 1);
                self.expr(depth - 1);
                self.emit(&format!("call {callee}"));
            }
            _ => self.local_get(),
        }
    }

    /// Reads a local as an operand. The double complement (an identity
    /// wasmi does not fold away) works around a wasmi 2.0.0 miscompilation:
    /// a `local.get x` still on the operand stack reads a stale copy when
    /// an untaken `if` arm translated later contains `local.set x` (e.g.
    /// `local.get 0 i32.const 32 local.get 0 i32.eqz select` followed by
    /// `block (result i32) i32.const -1 if (result i32) i32.const 5 else
    /// local.set 0 ... end ... end`: wasmi returns local 0 instead of 32).
    fn local_get(&mut self) {
        let v = self.var();
        self.emit(&format!("local.get {v} i32.const -1 i32.xor i32.const -1 i32.xor"));
    }

    /// An i64 expression.
    fn expr64(&mut self, depth: u32) {
        self.budget = self.budget.saturating_sub(1);
        let leaf = depth == 0 || self.budget == 0;
        match if leaf { self.rng.below(2) } else { self.rng.below(9) } {
            0 => {
                let v: i64 = match self.rng.below(5) {
                    0 => self.rng.below(70) as i64,
                    1 => -(self.rng.below(3) as i64) - 1,
                    2 => i64::MIN,
                    3 => 0xffff_ffff,
                    _ => self.rng.next() as i64,
                };
                self.emit(&format!("i64.const {v}"));
            }
            1 => {
                let v = self.var();
                let ext = if self.rng.chance(50) { "s" } else { "u" };
                self.emit(&format!("local.get {v} i64.extend_i32_{ext}"));
            }
            2..=4 => {
                const OPS: [&str; 15] = [
                    "add", "sub", "mul", "div_s", "div_u", "rem_s", "rem_u", "and", "or", "xor", "shl", "shr_s",
                    "shr_u", "rotl", "rotr",
                ];
                self.expr64(depth - 1);
                self.expr64(depth - 1);
                let op = OPS[self.rng.below(OPS.len() as u64) as usize];
                self.emit(&format!("i64.{op}"));
            }
            5 => {
                const OPS: [&str; 6] = ["clz", "ctz", "popcnt", "extend8_s", "extend16_s", "extend32_s"];
                self.expr64(depth - 1);
                let op = OPS[self.rng.below(OPS.len() as u64) as usize];
                self.emit(&format!("i64.{op}"));
            }
            6 => {
                let mem = self.rng.below(2) as u32;
                self.address(mem);
                const LOADS: [&str; 7] = ["load", "load8_s", "load8_u", "load16_s", "load16_u", "load32_s", "load32_u"];
                let op = LOADS[self.rng.below(7) as usize];
                let offset = self.rng.below(8);
                self.emit(&format!("i64.{op} {mem} offset={offset}"));
            }
            7 => {
                self.expr64(depth - 1);
                self.expr64(depth - 1);
                self.expr(depth - 1);
                self.emit("select");
            }
            _ => {
                let t = if self.rng.chance(50) { "f32" } else { "f64" };
                self.exprf(t, depth - 1);
                let op = ["trunc", "trunc_sat"][self.rng.below(2) as usize];
                let sign = ["s", "u"][self.rng.below(2) as usize];
                self.emit(&format!("i64.{op}_{t}_{sign}"));
            }
        }
    }

    /// A float expression of type `t` (f32 or f64).
    fn exprf(&mut self, t: &str, depth: u32) {
        self.budget = self.budget.saturating_sub(1);
        let leaf = depth == 0 || self.budget == 0;
        let other = if t == "f32" { "f64" } else { "f32" };
        match if leaf { self.rng.below(2) } else { self.rng.below(9) } {
            0 => {
                const CONSTS: [&str; 14] = [
                    "0", "-0", "1", "-1", "0.5", "-2.5", "3.5", "2147483647", "2147483648", "-2147483904",
                    "4294967296", "inf", "-inf", "nan",
                ];
                let c = CONSTS[self.rng.below(CONSTS.len() as u64) as usize];
                self.emit(&format!("{t}.const {c}"));
            }
            1 => {
                let v = self.var();
                let sign = ["s", "u"][self.rng.below(2) as usize];
                self.emit(&format!("local.get {v} {t}.convert_i32_{sign}"));
            }
            2 | 3 => {
                const OPS: [&str; 7] = ["add", "sub", "mul", "div", "min", "max", "copysign"];
                self.exprf(t, depth - 1);
                self.exprf(t, depth - 1);
                let op = OPS[self.rng.below(OPS.len() as u64) as usize];
                self.emit(&format!("{t}.{op}"));
            }
            4 => {
                const OPS: [&str; 7] = ["abs", "neg", "sqrt", "ceil", "floor", "trunc", "nearest"];
                self.exprf(t, depth - 1);
                let op = OPS[self.rng.below(OPS.len() as u64) as usize];
                self.emit(&format!("{t}.{op}"));
            }
            5 => {
                self.expr64(depth - 1);
                let sign = ["s", "u"][self.rng.below(2) as usize];
                self.emit(&format!("{t}.convert_i64_{sign}"));
            }
            6 => {
                self.exprf(other, depth - 1);
                self.emit(if t == "f32" { "f32.demote_f64" } else { "f64.promote_f32" });
            }
            7 => {
                let mem = self.rng.below(2) as u32;
                self.address(mem);
                let offset = self.rng.below(8);
                self.emit(&format!("{t}.load {mem} offset={offset}"));
            }
            _ => {
                self.exprf(t, depth - 1);
                self.exprf(t, depth - 1);
                self.expr(depth - 1);
                self.emit("select");
            }
        }
    }

    fn stmts(&mut self, depth: u32, max: u64) {
        for _ in 0..self.rng.below(max + 1) {
            self.stmt(depth);
        }
    }

    fn stmt(&mut self, depth: u32) {
        self.budget = self.budget.saturating_sub(1);
        if depth == 0 || self.budget == 0 {
            let v = self.var();
            self.expr(1);
            self.emit(&format!("local.set {v}"));
            return;
        }
        match self.rng.below(12) {
            0 | 1 => {
                let v = self.var();
                self.expr(depth);
                self.emit(&format!("local.set {v}"));
            }
            2 => {
                let mem = self.rng.below(2) as u32;
                let offset = self.rng.below(8);
                if self.rng.chance(30) {
                    // The value goes through the i64 local: wasmi 2.0.0
                    // panics translating an i64 store whose address and
                    // value are both fresh results.
                    self.expr64(depth - 1);
                    self.emit(&format!("local.set {I64_LOCAL} local.get {I64_LOCAL}"));
                    // Value below the address on the stack: swap via the
                    // local (the address is computed after the value here,
                    // which only changes the order of possible traps).
                    self.emit("drop");
                    self.address(mem);
                    self.emit(&format!("local.get {I64_LOCAL}"));
                    const STORES: [&str; 4] = ["store", "store8", "store16", "store32"];
                    let op = STORES[self.rng.below(4) as usize];
                    self.emit(&format!("i64.{op} {mem} offset={offset}"));
                } else {
                    self.address(mem);
                    self.expr(depth - 1);
                    const STORES: [&str; 3] = ["store", "store8", "store16"];
                    let op = STORES[self.rng.below(3) as usize];
                    self.emit(&format!("i32.{op} {mem} offset={offset}"));
                }
            }
            3 => {
                self.emit("block");
                self.labels.push(Label::Void);
                self.stmts(depth - 1, 3);
                self.labels.pop();
                self.emit("end");
            }
            4 if self.loop_depth < COUNTERS => {
                let counter = PARAMS + LOCALS + self.loop_depth;
                let trips = 1 + self.rng.below(4);
                self.emit(&format!("i32.const {trips} local.set {counter} loop"));
                self.labels.push(Label::Other);
                self.loop_depth += 1;
                self.stmts(depth - 1, 3);
                self.loop_depth -= 1;
                self.labels.pop();
                self.emit(&format!("local.get {counter} i32.const 1 i32.sub local.tee {counter} br_if 0 end"));
            }
            5 => {
                self.expr(depth - 1);
                self.emit("if");
                self.labels.push(Label::Void);
                self.stmts(depth - 1, 3);
                if self.rng.chance(50) {
                    self.emit("else");
                    self.stmts(depth - 1, 3);
                }
                self.labels.pop();
                self.emit("end");
            }
            6 | 7 => {
                if let Some(l) = self.void_label() {
                    self.expr(depth - 1);
                    self.emit(&format!("br_if {l}"));
                }
            }
            8 => {
                // An unconditional exit followed by dead code.
                if let Some(l) = self.void_label() {
                    if self.rng.chance(50) {
                        self.emit(&format!("br {l}"));
                    } else {
                        let mut targets = String::new();
                        for _ in 0..1 + self.rng.below(4) {
                            let t = self.void_label().unwrap_or(l);
                            targets += &format!("{t} ");
                        }
                        self.expr(depth - 1);
                        self.emit(&format!("br_table {targets}{l}"));
                    }
                    self.emit("i32.const 1 local.set 2 block i32.const 5 drop end");
                }
            }
            9 if self.rng.chance(20) => {
                self.expr(depth - 1);
                self.emit("return local.get 3 drop");
            }
            10 => {
                let (dst, src) = (self.rng.below(2), self.rng.below(2));
                self.address(dst as u32);
                self.address(src as u32);
                let len = self.rng.below(20);
                self.emit(&format!("i32.const {len} memory.copy {dst} {src}"));
            }
            _ => {
                let mem = self.rng.below(2) as u32;
                self.address(mem);
                self.expr(depth - 1);
                let len = self.rng.below(20);
                self.emit(&format!("i32.const {len} memory.fill {mem}"));
            }
        }
    }
}

fn program(rng: &mut Rng) -> String {
    let mut text = String::from(
        "(module (memory (export \"m0\") 1 2) (memory (export \"m1\") 300 600 (pagesize 1))\n\
         (data (memory 0) (i32.const 16) \"\\01\\02\\03\\04\\05\\06\\07\\08\\f0\\f1\\f2\")\n\
         (data (memory 1) (i32.const 250) \"ab\\ffcd\")\n",
    );
    for f in 0..3 {
        let mut g = Gen { rng, out: String::new(), labels: vec![Label::Other], loop_depth: 0, callable: f, budget: 120 };
        g.stmts(4, 6);
        g.expr(3);
        text += &format!(
            "(func (export \"f{f}\") (param i32 i32) (result i32) (local {}i64)\n{})\n",
            "i32 ".repeat((LOCALS + COUNTERS) as usize),
            g.out
        );
    }
    text + ")"
}

#[test]
fn random_structured_programs_match_wasmi() {
    let mut rng = Rng(0x51ab_c0de_2024_0001);
    let opts = TranslateOptions::default();
    for _ in 0..1000 {
        let text = program(&mut rng);
        let mut calls = Vec::new();
        for f in 0..3 {
            for _ in 0..3 {
                let a = [0, 1, 7, 0xffff_ffff, rng.next() & 0xffff_ffff][rng.below(5) as usize];
                let b = [0, 2, 13, 0x8000_0000, rng.next() & 0xff][rng.below(5) as usize];
                calls.push((["f0", "f1", "f2"][f], vec![a, b]));
            }
        }
        let calls: Vec<(&str, Vec<u64>)> = calls.iter().map(|(n, a)| (*n, a.clone())).collect();
        let result = std::panic::catch_unwind(|| assert_same_as_wasmi(&text, &opts, &calls, &["m0", "m1"]));
        if let Err(e) = result {
            eprintln!("failing program:\n{text}");
            std::panic::resume_unwind(e);
        }
    }
}
