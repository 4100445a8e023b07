//! Execution test: compiles IR functions covering every lowered instruction,
//! wraps the machine code in an assembler file (raw bytes plus `.reloc`
//! directives for every relocation, so the REL addends encoded in the
//! instructions are exercised too), links it with a generated C driver
//! (arm-none-eabi-gcc, newlib rdimon semihosting) and runs it under
//! `qemu-arm -cpu cortex-m4`. Expected results are computed here from wasm
//! semantics, not from the backend.
//!
//! Skips (with a message) when the ARM toolchain or qemu-arm is missing.

use bulkhead_ir::*;
use bulkhead_thumb::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const VALS: [u32; 20] = [
    0,
    1,
    2,
    3,
    7,
    31,
    32,
    33,
    255,
    256,
    4095,
    4096,
    0x10000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0xffff_fffe,
    0x1234_5678,
    0xdead_beef,
    100,
];

const MEM0_SIZE: u32 = 65536;
const MEM1_SIZE: u32 = 4096;
const DATA0: [u8; 16] = [
    9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
];

/// One function under test and the calls to make.
struct Case {
    func: Function,
    calls: Vec<(Vec<u32>, Expect)>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Value(u32),
    Trap,
}

struct Suite {
    cases: Vec<Case>,
    sigs: Vec<Signature>,
}

impl Suite {
    fn new() -> Suite {
        Suite {
            cases: Vec::new(),
            sigs: Vec::new(),
        }
    }

    /// Reserves the next function index (for calls to it before it is built).
    fn next_index(&self) -> u32 {
        self.sigs.len() as u32
    }

    fn add(
        &mut self,
        name: &str,
        params: usize,
        results: usize,
        calls: Vec<(Vec<u32>, Expect)>,
        body: impl FnOnce(&mut FunctionBuilder, &[Value]),
    ) -> u32 {
        let idx = self.sigs.len() as u32;
        let sig = Signature {
            params: vec![Type::I32; params],
            results: vec![Type::I32; results],
        };
        self.sigs.push(sig.clone());
        let mut f = Function::new(FuncIdx(idx), name, sig);
        {
            let mut b = FunctionBuilder::new(&mut f);
            let e = b.create_block();
            b.switch_to_block(e);
            let ps: Vec<Value> = (0..params)
                .map(|_| b.append_block_param(e, Type::I32))
                .collect();
            body(&mut b, &ps);
        }
        if let Err(e) = verify(&f) {
            panic!("test IR for {name} does not verify: {e}\n{f}");
        }
        self.cases.push(Case { func: f, calls });
        idx
    }
}

fn v(x: u32) -> Expect {
    Expect::Value(x)
}

fn binop_ref(op: BinaryOp, x: u32, y: u32) -> u32 {
    let (sx, sy) = (x as i32, y as i32);
    match op {
        BinaryOp::Add => x.wrapping_add(y),
        BinaryOp::Sub => x.wrapping_sub(y),
        BinaryOp::Mul => x.wrapping_mul(y),
        BinaryOp::DivS => {
            if y == 0 {
                0
            } else {
                sx.wrapping_div(sy) as u32
            }
        }
        BinaryOp::DivU => x.checked_div(y).unwrap_or(0),
        BinaryOp::RemS => {
            if y == 0 {
                x
            } else {
                sx.wrapping_rem(sy) as u32
            }
        }
        BinaryOp::RemU => {
            if y == 0 {
                x
            } else {
                x % y
            }
        }
        BinaryOp::And => x & y,
        BinaryOp::Or => x | y,
        BinaryOp::Xor => x ^ y,
        BinaryOp::Shl => x.wrapping_shl(y & 31),
        BinaryOp::ShrS => (sx >> (y & 31)) as u32,
        BinaryOp::ShrU => x >> (y & 31),
        BinaryOp::Rotl => x.rotate_left(y & 31),
        BinaryOp::Rotr => x.rotate_right(y & 31),
    }
}

fn unop_ref(op: UnaryOp, x: u32) -> u32 {
    match op {
        UnaryOp::Clz => x.leading_zeros(),
        UnaryOp::Ctz => x.trailing_zeros(),
        UnaryOp::Popcnt => x.count_ones(),
        UnaryOp::Eqz => (x == 0) as u32,
        UnaryOp::Extend8S => x as u8 as i8 as i32 as u32,
        UnaryOp::Extend16S => x as u16 as i16 as i32 as u32,
        UnaryOp::Extend32S => unreachable!("sextend32 is an i64 operation"),
    }
}

fn icmp_ref(cc: IntCC, x: u32, y: u32) -> bool {
    let (sx, sy) = (x as i32, y as i32);
    match cc {
        IntCC::Eq => x == y,
        IntCC::Ne => x != y,
        IntCC::LtS => sx < sy,
        IntCC::LtU => x < y,
        IntCC::GtS => sx > sy,
        IntCC::GtU => x > y,
        IntCC::LeS => sx <= sy,
        IntCC::LeU => x <= y,
        IntCC::GeS => sx >= sy,
        IntCC::GeU => x >= y,
    }
}

const BINOPS: [BinaryOp; 15] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::DivS,
    BinaryOp::DivU,
    BinaryOp::RemS,
    BinaryOp::RemU,
    BinaryOp::And,
    BinaryOp::Or,
    BinaryOp::Xor,
    BinaryOp::Shl,
    BinaryOp::ShrS,
    BinaryOp::ShrU,
    BinaryOp::Rotl,
    BinaryOp::Rotr,
];
const UNOPS: [UnaryOp; 6] = [
    UnaryOp::Clz,
    UnaryOp::Ctz,
    UnaryOp::Popcnt,
    UnaryOp::Eqz,
    UnaryOp::Extend8S,
    UnaryOp::Extend16S,
];
const CCS: [IntCC; 10] = [
    IntCC::Eq,
    IntCC::Ne,
    IntCC::LtS,
    IntCC::LtU,
    IntCC::GtS,
    IntCC::GtU,
    IntCC::LeS,
    IntCC::LeU,
    IntCC::GeS,
    IntCC::GeU,
];
/// Constants exercising every immediate form (modified, imm12, negative
/// imm12, movw, movw+movt, mvn).
const CONSTS: [u32; 9] = [
    0,
    1,
    31,
    255,
    4095,
    0x00ff_00ff,
    0xffff_f000,
    0x1234_5678,
    0xffff_ff00,
];

fn pairs() -> impl Iterator<Item = (u32, u32)> {
    VALS.iter().flat_map(|&x| VALS.iter().map(move |&y| (x, y)))
}

fn build_suite() -> Suite {
    let mut s = Suite::new();
    let m0 = MemIdx(0);
    let m1 = MemIdx(1);

    // Binary operations: register/register and with constants on either side.
    for op in BINOPS {
        let calls = pairs()
            .map(|(x, y)| (vec![x, y], v(binop_ref(op, x, y))))
            .collect();
        s.add(&format!("bin_{op}"), 2, 1, calls, |b, p| {
            let r = b.binary(op, p[0], p[1]);
            b.ret(&[r]);
        });
        for k in CONSTS {
            let calls = VALS
                .iter()
                .map(|&x| (vec![x], v(binop_ref(op, x, k))))
                .collect();
            s.add(&format!("bin_{op}_rk{k:x}"), 1, 1, calls, |b, p| {
                let c = b.iconst(Type::I32, k as u64);
                let r = b.binary(op, p[0], c);
                b.ret(&[r]);
            });
            let calls = VALS
                .iter()
                .map(|&x| (vec![x], v(binop_ref(op, k, x))))
                .collect();
            s.add(&format!("bin_{op}_kr{k:x}"), 1, 1, calls, |b, p| {
                let c = b.iconst(Type::I32, k as u64);
                let r = b.binary(op, c, p[0]);
                b.ret(&[r]);
            });
        }
    }
    for op in UNOPS {
        let calls = VALS
            .iter()
            .map(|&x| (vec![x], v(unop_ref(op, x))))
            .collect();
        s.add(&format!("un_{op}"), 1, 1, calls, |b, p| {
            let r = b.unary(op, p[0]);
            b.ret(&[r]);
        });
    }
    // Constants.
    for k in CONSTS
        .iter()
        .chain(&[0x8000_0000u32, 0xffff_ffff, 0x0001_0000, 0xabcd_0000])
    {
        let k = *k;
        s.add(
            &format!("const_{k:x}"),
            0,
            1,
            vec![(vec![], v(k))],
            |b, _| {
                let c = b.iconst(Type::I32, k as u64);
                b.ret(&[c]);
            },
        );
    }
    // Comparisons: materialized, selected, branched on, and with constants.
    for cc in CCS {
        let calls = pairs()
            .map(|(x, y)| (vec![x, y], v(icmp_ref(cc, x, y) as u32)))
            .collect();
        s.add(&format!("icmp_{cc}"), 2, 1, calls, |b, p| {
            let r = b.icmp(cc, p[0], p[1]);
            b.ret(&[r]);
        });
        for k in [0u32, 100, 0xffff_ffff, 0x1234_5678, 0xffff_ff00] {
            let calls = VALS
                .iter()
                .map(|&x| (vec![x], v(icmp_ref(cc, x, k) as u32)))
                .collect();
            s.add(&format!("icmp_{cc}_k{k:x}"), 1, 1, calls, |b, p| {
                let c = b.iconst(Type::I32, k as u64);
                let r = b.icmp(cc, p[0], c);
                b.ret(&[r]);
            });
        }
        let calls = pairs()
            .map(|(x, y)| {
                (
                    vec![x, y, 111, 222],
                    v(if icmp_ref(cc, x, y) { 111 } else { 222 }),
                )
            })
            .collect();
        s.add(&format!("select_icmp_{cc}"), 4, 1, calls, |b, p| {
            let c = b.icmp(cc, p[0], p[1]);
            let r = b.select(c, p[2], p[3]);
            b.ret(&[r]);
        });
        // brif on a comparison, passing block arguments.
        let calls = pairs()
            .map(|(x, y)| {
                (
                    vec![x, y],
                    v(if icmp_ref(cc, x, y) {
                        x.wrapping_add(1)
                    } else {
                        y.wrapping_mul(3)
                    }),
                )
            })
            .collect();
        s.add(&format!("brif_{cc}"), 2, 1, calls, |b, p| {
            let t = b.create_block();
            let e = b.create_block();
            let j = b.create_block();
            let r = b.append_block_param(j, Type::I32);
            let c = b.icmp(cc, p[0], p[1]);
            b.brif(c, t, &[], e, &[]);
            b.switch_to_block(t);
            let one = b.iconst(Type::I32, 1);
            let a = b.binary(BinaryOp::Add, p[0], one);
            b.jump(j, &[a]);
            b.switch_to_block(e);
            let three = b.iconst(Type::I32, 3);
            let m = b.binary(BinaryOp::Mul, p[1], three);
            b.jump(j, &[m]);
            b.switch_to_block(j);
            b.ret(&[r]);
        });
    }
    // select on a plain value; icmp result also used as a value.
    let calls = pairs()
        .map(|(x, y)| (vec![x, y, 5], v(if x != 0 { y } else { 5 })))
        .collect();
    s.add("select_plain", 3, 1, calls, |b, p| {
        let r = b.select(p[0], p[1], p[2]);
        b.ret(&[r]);
    });
    // brif directly on a value, with arguments to both sides of the same block.
    let calls = VALS
        .iter()
        .map(|&x| (vec![x], v(if x != 0 { 10 } else { 20 })))
        .collect();
    s.add("brif_value_same_target", 1, 1, calls, |b, p| {
        let j = b.create_block();
        let r = b.append_block_param(j, Type::I32);
        let ten = b.iconst(Type::I32, 10);
        let twenty = b.iconst(Type::I32, 20);
        b.brif(p[0], j, &[ten], j, &[twenty]);
        b.switch_to_block(j);
        b.ret(&[r]);
    });
    // Loop: sum of 1..=n and a product-ish recurrence (back edge, block params).
    let calls = [0u32, 1, 2, 10, 100, 1000]
        .iter()
        .map(|&n| {
            let mut acc = 0u32;
            let mut h = 1u32;
            for i in 1..=n {
                acc = acc.wrapping_add(i);
                h = h.wrapping_mul(31).wrapping_add(i);
            }
            (vec![n], v(acc ^ h))
        })
        .collect();
    s.add("loop_sum", 1, 1, calls, |b, p| {
        let head = b.create_block();
        let body = b.create_block();
        let exit = b.create_block();
        let i = b.append_block_param(head, Type::I32);
        let acc = b.append_block_param(head, Type::I32);
        let h = b.append_block_param(head, Type::I32);
        let one = b.iconst(Type::I32, 1);
        let zero = b.iconst(Type::I32, 0);
        b.jump(head, &[one, zero, one]);
        b.switch_to_block(head);
        let c = b.icmp(IntCC::LeU, i, p[0]);
        b.brif(c, body, &[], exit, &[]);
        b.switch_to_block(body);
        let acc2 = b.binary(BinaryOp::Add, acc, i);
        let k31 = b.iconst(Type::I32, 31);
        let hm = b.binary(BinaryOp::Mul, h, k31);
        let h2 = b.binary(BinaryOp::Add, hm, i);
        let one2 = b.iconst(Type::I32, 1);
        let i2 = b.binary(BinaryOp::Add, i, one2);
        b.jump(head, &[i2, acc2, h2]);
        b.switch_to_block(exit);
        let r = b.binary(BinaryOp::Xor, acc, h);
        b.ret(&[r]);
    });
    // br_table with a shared target and a default.
    let table = |x: u32| -> u32 {
        match x {
            0 => 100,
            1 | 3 => 200,
            2 => 300,
            _ => 999,
        }
    };
    let calls = [0u32, 1, 2, 3, 4, 5, 0xffff_ffff, 0x8000_0000]
        .iter()
        .map(|&x| (vec![x], v(table(x))))
        .collect();
    s.add("br_table", 1, 1, calls, |b, p| {
        let blocks: Vec<Block> = (0..4).map(|_| b.create_block()).collect();
        b.br_table(
            p[0],
            vec![blocks[0], blocks[1], blocks[2], blocks[1]],
            blocks[3],
        );
        for (blk, val) in blocks.iter().zip([100u64, 200, 300, 999]) {
            b.switch_to_block(*blk);
            let c = b.iconst(Type::I32, val);
            b.ret(&[c]);
        }
    });

    // Calls: six arguments (two on the stack) to a six-parameter callee; a
    // callee with two results; values live across calls.
    let callee6 = s.add(
        "callee6",
        6,
        1,
        vec![(
            vec![1, 2, 3, 4, 5, 6],
            v(1 + 2 * 2 + 3 * 3 + 4 * 4 + 5 * 5 + 6 * 6),
        )],
        |b, p| {
            let mut acc = p[0];
            for (i, &x) in p.iter().enumerate().skip(1) {
                let k = b.iconst(Type::I32, i as u64 + 1);
                let m = b.binary(BinaryOp::Mul, x, k);
                acc = b.binary(BinaryOp::Add, acc, m);
            }
            b.ret(&[acc]);
        },
    );
    let two_results = s.add("two_results", 1, 2, vec![], |b, p| {
        let one = b.iconst(Type::I32, 1);
        let a = b.binary(BinaryOp::Add, p[0], one);
        let k = b.iconst(Type::I32, 7);
        let m = b.binary(BinaryOp::Mul, p[0], k);
        b.ret(&[a, m]);
    });
    let caller_ref = |x: u32, y: u32| -> u32 {
        let c6 = |a: [u32; 6]| {
            a.iter().enumerate().fold(0u32, |acc, (i, &v)| {
                acc.wrapping_add(v.wrapping_mul(i as u32 + 1))
            })
        };
        let r1 = c6([x, y, x ^ y, 4, x.wrapping_add(y), 6]);
        let (a, m) = (y.wrapping_add(1), y.wrapping_mul(7));
        r1.wrapping_add(a.wrapping_mul(1000))
            .wrapping_add(m)
            .wrapping_add(x)
            .wrapping_sub(y)
    };
    let calls = pairs()
        .take(60)
        .map(|(x, y)| (vec![x, y], v(caller_ref(x, y))))
        .collect();
    s.add("caller", 2, 1, calls, |b, p| {
        let x = p[0];
        let y = p[1];
        let xy = b.binary(BinaryOp::Xor, x, y);
        let four = b.iconst(Type::I32, 4);
        let s2 = b.binary(BinaryOp::Add, x, y);
        let six = b.iconst(Type::I32, 6);
        let r1 = b.call(FuncIdx(callee6), &[x, y, xy, four, s2, six], &[Type::I32])[0];
        let rs = b.call(FuncIdx(two_results), &[y], &[Type::I32, Type::I32]);
        let k = b.iconst(Type::I32, 1000);
        let am = b.binary(BinaryOp::Mul, rs[0], k);
        let t = b.binary(BinaryOp::Add, r1, am);
        let t = b.binary(BinaryOp::Add, t, rs[1]);
        let t = b.binary(BinaryOp::Add, t, x);
        let t = b.binary(BinaryOp::Sub, t, y);
        b.ret(&[t]);
    });
    // Register pressure: 24 values live at once and across a call.
    let pressure_ref = |x: u32| -> u32 {
        let vals: Vec<u32> = (0..24u32)
            .map(|i| x.wrapping_mul(i + 3).wrapping_add(i * i))
            .collect();
        let c = vals[0]
            .wrapping_add(vals[1])
            .wrapping_mul(2)
            .wrapping_add(vals[2])
            .wrapping_mul(3)
            .wrapping_add(vals[3].wrapping_mul(4))
            .wrapping_add(vals[4].wrapping_mul(5))
            .wrapping_add(vals[5].wrapping_mul(6));
        let _ = c;
        let r = [vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]]
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &v)| {
                acc.wrapping_add(v.wrapping_mul(i as u32 + 1))
            });
        vals.iter()
            .enumerate()
            .fold(r, |acc, (i, &v)| acc ^ v.rotate_left(i as u32))
    };
    let calls = VALS
        .iter()
        .map(|&x| (vec![x], v(pressure_ref(x))))
        .collect();
    s.add("pressure", 1, 1, calls, |b, p| {
        let vals: Vec<Value> = (0..24u64)
            .map(|i| {
                let k = b.iconst(Type::I32, i + 3);
                let m = b.binary(BinaryOp::Mul, p[0], k);
                let sq = b.iconst(Type::I32, i * i);
                b.binary(BinaryOp::Add, m, sq)
            })
            .collect();
        let r = b.call(FuncIdx(callee6), &vals[0..6], &[Type::I32])[0];
        let mut acc = r;
        for (i, &x) in vals.iter().enumerate() {
            let k = b.iconst(Type::I32, i as u64);
            let rot = b.binary(BinaryOp::Rotl, x, k);
            acc = b.binary(BinaryOp::Xor, acc, rot);
        }
        b.ret(&[acc]);
    });

    // Memory: every load/store width through the pinned base (memory 0,
    // R11), with offsets inside and beyond imm12, base+index addressing.
    type LoadRef = fn(&[u8], u32) -> u32;
    let widths: [(StoreKind, LoadKind, u32, LoadRef); 5] = [
        (StoreKind::I32, LoadKind::I32, 4, |m, a| {
            u32::from_le_bytes(m[a as usize..a as usize + 4].try_into().unwrap())
        }),
        (StoreKind::I32_8, LoadKind::I32_8U, 1, |m, a| {
            m[a as usize] as u32
        }),
        (StoreKind::I32_8, LoadKind::I32_8S, 1, |m, a| {
            m[a as usize] as i8 as i32 as u32
        }),
        (StoreKind::I32_16, LoadKind::I32_16U, 2, |m, a| {
            u16::from_le_bytes([m[a as usize], m[a as usize + 1]]) as u32
        }),
        (StoreKind::I32_16, LoadKind::I32_16S, 2, |m, a| {
            u16::from_le_bytes([m[a as usize], m[a as usize + 1]]) as i16 as i32 as u32
        }),
    ];
    for (sk, lk, width, lref) in widths {
        for offset in [0u32, 3, 4095, 4096, 20000] {
            // f(addr, val) { bounds; store; bounds; load } returns the
            // loaded value (written through memory 0, read back).
            let calls = [
                (0u32, 0x8765_4321u32),
                (100, 0xffff_ff80),
                (7, 0x0000_7fff),
                (MEM0_SIZE - offset - width, 0xa5a5_5a5a),
            ]
            .iter()
            .filter(|(a, _)| {
                a.checked_add(offset + width)
                    .is_some_and(|e| e <= MEM0_SIZE)
            })
            .map(|&(a, val)| {
                let mut mem = vec![0u8; 8];
                mem[..4].copy_from_slice(&val.to_le_bytes());
                (vec![a, val], v(lref(&mem, 0)))
            })
            .chain(core::iter::once((
                vec![MEM0_SIZE - offset - width + 1, 1],
                Expect::Trap,
            )))
            .collect();
            s.add(
                &format!("mem0_{}_{}_{offset}", sk.name(), lk.name()),
                2,
                1,
                calls,
                |b, p| {
                    b.bounds_check(m0, p[0], (offset + width) as u64);
                    let a = b.mem_addr(m0, p[0]);
                    b.store(sk, a, p[1], offset);
                    let l = b.load(lk, a, offset);
                    b.ret(&[l]);
                },
            );
        }
    }
    // Two memories in one function: a copy from memory 1 (not pinned, base
    // in a vreg) to memory 0 (pinned) and back, register-offset loads.
    let calls = [
        (0u32, 5u32),
        (10, 0x1234_5678),
        (MEM1_SIZE - 4, 0xffff_ffff),
    ]
    .iter()
    .map(|&(i, x)| (vec![i, x], v(x.wrapping_add(x))))
    .chain(core::iter::once((vec![MEM1_SIZE - 3, 1], Expect::Trap)))
    .collect();
    s.add("two_memories", 2, 1, calls, |b, p| {
        b.bounds_check(m1, p[0], 4);
        let a1 = b.mem_addr(m1, p[0]);
        b.store(StoreKind::I32, a1, p[1], 0);
        let x = b.load(LoadKind::I32, a1, 0);
        b.bounds_check(m0, p[0], 4);
        let a0 = b.mem_addr(m0, p[0]);
        b.store(StoreKind::I32, a0, x, 0);
        let y = b.load(LoadKind::I32, a0, 0);
        let z = b.load(LoadKind::I32, a1, 0);
        let r = b.binary(BinaryOp::Add, y, z);
        b.ret(&[r]);
    });
    // Dynamic bounds check, a bounds check with end > 4 GiB, mem_size and
    // mem_set_size, globals.
    let calls = vec![
        (vec![0, 10], v(1)),
        (vec![MEM0_SIZE - 10, 10], v(1)),
        (vec![MEM0_SIZE - 10, 11], Expect::Trap),
        (vec![0xffff_ffff, 2], Expect::Trap),
    ];
    s.add("bounds_dyn", 2, 1, calls, |b, p| {
        b.bounds_check_dyn(m0, p[0], p[1]);
        let one = b.iconst(Type::I32, 1);
        b.ret(&[one]);
    });
    s.add(
        "bounds_huge",
        1,
        1,
        vec![(vec![0], Expect::Trap)],
        |b, p| {
            b.bounds_check(m0, p[0], 1 << 33);
            b.ret(&[p[0]]);
        },
    );
    s.add(
        "mem_size",
        1,
        1,
        vec![(vec![1], v(MEM1_SIZE + 1)), (vec![0], v(MEM1_SIZE))],
        |b, p| {
            let old = b.mem_size(m1);
            let new = b.binary(BinaryOp::Add, old, p[0]);
            b.mem_set_size(m1, new);
            let r = b.mem_size(m1);
            b.mem_set_size(m1, old);
            b.ret(&[r]);
        },
    );
    s.add(
        "globals",
        1,
        1,
        vec![(vec![5], v(5 * 3 + 5)), (vec![1000], v(1000 * 3 + 1000))],
        |b, p| {
            b.global_set(GlobalIdx(2), p[0]);
            let g = b.global_get(GlobalIdx(2), Type::I32);
            let k = b.iconst(Type::I32, 3);
            let m = b.binary(BinaryOp::Mul, g, k);
            b.global_set(GlobalIdx(3), m);
            let g3 = b.global_get(GlobalIdx(3), Type::I32);
            let r = b.binary(BinaryOp::Add, g3, g);
            b.ret(&[r]);
        },
    );
    // Bulk memory: fill, overlapping copies in both directions (aligned and
    // unaligned), cross-memory copy, memory.init from a data segment. Each
    // returns a checksum of the region, computed here on a model.
    let bulk_ref = |dst: u32, src: u32, len: u32, fill: u32| -> u32 {
        let mut m = vec![0u8; 256];
        m[0..64].fill(fill as u8);
        let s = m[src as usize..(src + len) as usize].to_vec();
        m[dst as usize..(dst + len) as usize].copy_from_slice(&s);
        m[..96].iter().enumerate().fold(0u32, |acc, (i, &b)| {
            acc.wrapping_mul(31).wrapping_add(b as u32 ^ i as u32)
        })
    };
    let calls = [
        (4u32, 0u32, 40u32, 0x5a),
        (0, 4, 40, 0x11),
        (1, 0, 33, 0xff),
        (0, 3, 50, 0x80),
        (8, 8, 10, 1),
        (60, 0, 0, 7),
        (13, 2, 60, 0x42),
    ]
    .iter()
    .map(|&(d, sr, l, f)| (vec![d, sr, l, f], v(bulk_ref(d, sr, l, f))))
    .collect();
    s.add("bulk_fill_copy", 4, 1, calls, |b, p| {
        // Clear 0..96 with a fill of 0, then fill 0..64 with the byte; a
        // marker pattern 64..96 via stores of i.
        let zero = b.iconst(Type::I32, 0);
        let base = b.mem_base(m0);
        let n96 = b.iconst(Type::I32, 96);
        b.memory_fill(m0, base, zero, n96);
        let n64 = b.iconst(Type::I32, 64);
        b.memory_fill(m0, base, p[3], n64);
        let d = b.addr_add(base, p[0]);
        let sr = b.addr_add(base, p[1]);
        b.memory_copy(m0, m0, d, sr, p[2]);
        // checksum over 0..96
        let head = b.create_block();
        let body = b.create_block();
        let exit = b.create_block();
        let i = b.append_block_param(head, Type::I32);
        let acc = b.append_block_param(head, Type::I32);
        b.jump(head, &[zero, zero]);
        b.switch_to_block(head);
        let c = b.icmp(IntCC::LtU, i, n96);
        b.brif(c, body, &[], exit, &[]);
        b.switch_to_block(body);
        let a = b.mem_addr(m0, i);
        let byte = b.load(LoadKind::I32_8U, a, 0);
        let x = b.binary(BinaryOp::Xor, byte, i);
        let k31 = b.iconst(Type::I32, 31);
        let am = b.binary(BinaryOp::Mul, acc, k31);
        let acc2 = b.binary(BinaryOp::Add, am, x);
        let one = b.iconst(Type::I32, 1);
        let i2 = b.binary(BinaryOp::Add, i, one);
        b.jump(head, &[i2, acc2]);
        b.switch_to_block(exit);
        b.ret(&[acc]);
    });
    let init_ref = |off: u32, len: u32, x: u32| -> u32 {
        let mut m = [0u8; 32];
        m[4..4 + len as usize].copy_from_slice(&DATA0[off as usize..(off + len) as usize]);
        let w = u32::from_le_bytes(m[4..8].try_into().unwrap());
        let w2 = u32::from_le_bytes(m[8..12].try_into().unwrap());
        w ^ w2.wrapping_add(x)
    };
    let calls = [(0u32, 8u32), (3, 8), (8, 8), (1, 5), (0, 0)]
        .iter()
        .map(|&(o, l)| (vec![o, l], v(init_ref(o, l, 0))))
        .collect();
    s.add("memory_init_copy_mem1", 2, 1, calls, |b, p| {
        // Zero 32 bytes of memory 1, init 4.. from data 0 into memory 1, copy
        // memory 1 -> memory 0 (cross-memory), read back from memory 0.
        let zero = b.iconst(Type::I32, 0);
        let n32 = b.iconst(Type::I32, 32);
        let base1 = b.mem_base(m1);
        b.memory_fill(m1, base1, zero, n32);
        let four = b.iconst(Type::I32, 4);
        let dst = b.addr_add(base1, four);
        b.memory_init(m1, DataIdx(0), dst, p[0], p[1]);
        let base0 = b.mem_base(m0);
        b.memory_copy(m0, m1, base0, base1, n32);
        let w = b.load(LoadKind::I32, base0, 4);
        let w2 = b.load(LoadKind::I32, base0, 8);
        let w2x = b.binary(BinaryOp::Add, w2, zero);
        let r = b.binary(BinaryOp::Xor, w, w2x);
        b.ret(&[r]);
    });

    // Traps: conditional (plain value, fused comparison) and unconditional.
    let calls = vec![(vec![0], v(0)), (vec![3], Expect::Trap)];
    s.add("trapnz", 1, 1, calls, |b, p| {
        b.trapnz(p[0], TrapCode::IntegerDivideByZero);
        b.ret(&[p[0]]);
    });
    let calls = vec![(vec![5, 6], v(11)), (vec![0, 6], Expect::Trap)];
    s.add("trapz", 2, 1, calls, |b, p| {
        b.trapz(p[0], TrapCode::IntegerDivideByZero);
        let r = b.binary(BinaryOp::Add, p[0], p[1]);
        b.ret(&[r]);
    });
    let calls = vec![
        (vec![5, 6], v(0)),
        (vec![0x8000_0000, 0xffff_ffff], Expect::Trap),
        (vec![0x8000_0000, 1], v(0)),
    ];
    s.add("trap_icmp", 2, 1, calls, |b, p| {
        let min = b.iconst(Type::I32, 0x8000_0000);
        let c1 = b.icmp(IntCC::Eq, p[0], min);
        let m1 = b.iconst(Type::I32, 0xffff_ffff);
        let c2 = b.icmp(IntCC::Eq, p[1], m1);
        let both = b.binary(BinaryOp::And, c1, c2);
        b.trapnz(both, TrapCode::IntegerOverflow);
        let zero = b.iconst(Type::I32, 0);
        b.ret(&[zero]);
    });
    let calls = vec![(vec![7], v(7)), (vec![100], Expect::Trap)];
    s.add("trap_fused_gt", 1, 1, calls, |b, p| {
        let k = b.iconst(Type::I32, 50);
        let c = b.icmp(IntCC::GtU, p[0], k);
        b.trapnz(c, TrapCode::TableOutOfBounds);
        b.ret(&[p[0]]);
    });
    let calls = vec![(vec![1], v(1)), (vec![0], Expect::Trap)];
    s.add("trap_uncond", 1, 1, calls, |b, p| {
        let t = b.create_block();
        let ok = b.create_block();
        b.brif(p[0], ok, &[], t, &[]);
        b.switch_to_block(t);
        b.trap(TrapCode::Unreachable);
        b.switch_to_block(ok);
        b.ret(&[p[0]]);
    });
    // A long function: the trap island and the join block are far beyond
    // the 16-bit branch ranges, so branch relaxation must widen them.
    let long_ref = |x: u32| -> u32 {
        let mut acc = x;
        if x > 5 {
            for i in 0..400u32 {
                acc = acc.wrapping_mul(3).wrapping_add(i) ^ (acc >> 7);
            }
        } else {
            acc = acc.wrapping_add(1);
        }
        acc
    };
    let calls = [6u32, 7, 100, 0xffff_ffff, 5, 1]
        .iter()
        .map(|&x| (vec![x], v(long_ref(x))))
        .chain(core::iter::once((vec![0], Expect::Trap)))
        .collect();
    s.add("long_branches", 1, 1, calls, |b, p| {
        b.trapz(p[0], TrapCode::Unreachable);
        let long = b.create_block();
        let short = b.create_block();
        let join = b.create_block();
        let r = b.append_block_param(join, Type::I32);
        let five = b.iconst(Type::I32, 5);
        let c = b.icmp(IntCC::GtU, p[0], five);
        b.brif(c, long, &[], short, &[]);
        b.switch_to_block(long);
        let mut acc = p[0];
        for i in 0..400u64 {
            let three = b.iconst(Type::I32, 3);
            let m = b.binary(BinaryOp::Mul, acc, three);
            let k = b.iconst(Type::I32, i);
            let a = b.binary(BinaryOp::Add, m, k);
            let seven = b.iconst(Type::I32, 7);
            let sh = b.binary(BinaryOp::ShrU, acc, seven);
            acc = b.binary(BinaryOp::Xor, a, sh);
        }
        b.jump(join, &[acc]);
        b.switch_to_block(short);
        let one = b.iconst(Type::I32, 1);
        let a = b.binary(BinaryOp::Add, p[0], one);
        b.jump(join, &[a]);
        b.switch_to_block(join);
        b.ret(&[r]);
    });
    // Addresses as block parameters: a pointer walking memory 0 (whose base
    // is pinned in R11, so it is copied into a virtual register for the
    // block argument) and one walking memory 1; select between addresses.
    let walk_ref = |n: u32| -> u32 {
        // mem0[4i] = i*i for i < n (through the walking pointer), then sum.
        (0..n)
            .fold(0u32, |acc, i| acc.wrapping_add(i * i))
            .wrapping_add(n)
    };
    let calls = [0u32, 1, 5, 64]
        .iter()
        .map(|&n| (vec![n], v(walk_ref(n))))
        .collect();
    s.add("pointer_walk", 1, 1, calls, |b, p| {
        let head = b.create_block();
        let body = b.create_block();
        let exit = b.create_block();
        let ptr = b.append_block_param(head, Type::Addr(m0));
        let i = b.append_block_param(head, Type::I32);
        let acc = b.append_block_param(head, Type::I32);
        let base = b.mem_base(m0);
        let zero = b.iconst(Type::I32, 0);
        b.jump(head, &[base, zero, zero]);
        b.switch_to_block(head);
        let c = b.icmp(IntCC::LtU, i, p[0]);
        b.brif(c, body, &[], exit, &[]);
        b.switch_to_block(body);
        let sq = b.binary(BinaryOp::Mul, i, i);
        b.store(StoreKind::I32, ptr, sq, 0);
        let back = b.load(LoadKind::I32, ptr, 0);
        let acc2 = b.binary(BinaryOp::Add, acc, back);
        let four = b.iconst(Type::I32, 4);
        let ptr2 = b.addr_add(ptr, four);
        let one = b.iconst(Type::I32, 1);
        let i2 = b.binary(BinaryOp::Add, i, one);
        b.jump(head, &[ptr2, i2, acc2]);
        b.switch_to_block(exit);
        // select between two addresses in memory 0 (one is the pinned base).
        let four_again = b.iconst(Type::I32, 4);
        let base1 = b.mem_addr(m0, four_again);
        let which = b.select(p[0], base, base1);
        b.store(StoreKind::I32, which, p[0], 0);
        let w = b.load(LoadKind::I32, which, 0);
        let r = b.binary(BinaryOp::Add, acc, w);
        b.ret(&[r]);
    });
    // Constant addresses: base + constant index + offset folds into the
    // load/store immediate (both memories), or falls back to an add.
    for (k, off) in [(100u32, 8u32), (4000, 95), (4000, 96), (0, 0), (2, 4090)] {
        // (Memory 1 is 4096 bytes in the driver: k + mem1 offset + 4 stays inside.)
        let calls = vec![(
            vec![0x1357_9bdf],
            v(0x1357_9bdf ^ 0x1357_9bdf_u32.rotate_left(8)),
        )];
        s.add(&format!("const_addr_{k}_{off}"), 1, 1, calls, |b, p| {
            let kk = b.iconst(Type::I32, k as u64);
            let a0 = b.mem_addr(m0, kk);
            b.store(StoreKind::I32, a0, p[0], off);
            let x = b.load(LoadKind::I32, a0, off);
            let a1 = b.mem_addr(m1, kk);
            let eight = b.iconst(Type::I32, 8);
            let rot = b.binary(BinaryOp::Rotl, p[0], eight);
            b.store(
                StoreKind::I32,
                a1,
                rot,
                off - off % 4 - if off >= 4 { 4 } else { 0 },
            );
            let y = b.load(
                LoadKind::I32,
                a1,
                off - off % 4 - if off >= 4 { 4 } else { 0 },
            );
            let r = b.binary(BinaryOp::Xor, x, y);
            b.ret(&[r]);
        });
    }
    add_random_functions(&mut s);
    let _ = s.next_index();
    s
}

/// xorshift64*: a tiny deterministic generator (no external crates).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random straight-line functions over six parameters (two on the stack):
/// long chains of binary/unary/compare/select operations with many values
/// live at once, evaluated here by a direct interpreter of the operations.
fn add_random_functions(s: &mut Suite) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for n in 0..24 {
        #[derive(Clone, Copy)]
        enum Op {
            Bin(BinaryOp, usize, usize),
            BinK(BinaryOp, usize, u32),
            Un(UnaryOp, usize),
            Cmp(IntCC, usize, usize),
            Sel(usize, usize, usize),
        }
        let len = 20 + rng.below(60);
        let mut ops = Vec::new();
        for i in 0..len {
            let avail = 6 + i;
            let a = rng.below(avail);
            let b = rng.below(avail);
            let c = rng.below(avail);
            ops.push(match rng.below(10) {
                0..=3 => Op::Bin(BINOPS[rng.below(BINOPS.len())], a, b),
                4 | 5 => Op::BinK(
                    BINOPS[rng.below(BINOPS.len())],
                    a,
                    CONSTS[rng.below(CONSTS.len())] ^ (rng.below(3) as u32),
                ),
                6 => Op::Un(UNOPS[rng.below(UNOPS.len())], a),
                7 | 8 => Op::Cmp(CCS[rng.below(CCS.len())], a, b),
                _ => Op::Sel(a, b, c),
            });
        }
        // The result mixes the last value with a few random earlier ones, so
        // many values stay live to the end.
        let keep: Vec<usize> = (0..6).map(|_| rng.below(6 + len)).collect();
        let eval = |args: &[u32]| -> u32 {
            let mut vals: Vec<u32> = args.to_vec();
            for op in &ops {
                let r = match *op {
                    Op::Bin(o, a, b) => binop_ref(o, vals[a], vals[b]),
                    Op::BinK(o, a, k) => binop_ref(o, vals[a], k),
                    Op::Un(o, a) => unop_ref(o, vals[a]),
                    Op::Cmp(cc, a, b) => icmp_ref(cc, vals[a], vals[b]) as u32,
                    Op::Sel(c, t, f) => {
                        if vals[c] != 0 {
                            vals[t]
                        } else {
                            vals[f]
                        }
                    }
                };
                vals.push(r);
            }
            keep.iter().fold(*vals.last().unwrap(), |acc, &k| {
                acc.rotate_left(5) ^ vals[k]
            })
        };
        let calls = (0..8)
            .map(|_| {
                let args: Vec<u32> = (0..6)
                    .map(|_| VALS[rng.below(VALS.len())] ^ (rng.next() as u32 & 0xff))
                    .collect();
                let e = eval(&args);
                (args, v(e))
            })
            .collect();
        let ops2 = ops.clone();
        let keep2 = keep.clone();
        s.add(&format!("random{n}"), 6, 1, calls, move |b, p| {
            let mut vals: Vec<Value> = p.to_vec();
            for op in &ops2 {
                let r = match *op {
                    Op::Bin(o, x, y) => b.binary(o, vals[x], vals[y]),
                    Op::BinK(o, x, k) => {
                        let c = b.iconst(Type::I32, k as u64);
                        b.binary(o, vals[x], c)
                    }
                    Op::Un(o, x) => b.unary(o, vals[x]),
                    Op::Cmp(cc, x, y) => b.icmp(cc, vals[x], vals[y]),
                    Op::Sel(c, t, f) => b.select(vals[c], vals[t], vals[f]),
                };
                vals.push(r);
            }
            let mut acc = *vals.last().unwrap();
            for &k in &keep2 {
                let five = b.iconst(Type::I32, 5);
                let rot = b.binary(BinaryOp::Rotl, acc, five);
                acc = b.binary(BinaryOp::Xor, rot, vals[k]);
            }
            b.ret(&[acc]);
        });
    }
}

fn tools_available() -> bool {
    ["arm-none-eabi-gcc", "qemu-arm"]
        .iter()
        .all(|t| Command::new(t).arg("--version").output().is_ok())
}

fn symbol(t: &RelocTarget) -> String {
    match t {
        RelocTarget::Function(n) => format!("f{n}"),
        RelocTarget::MemoryBase(k) => format!("mem{k}"),
        RelocTarget::MemorySize(k) => format!("mem{k}_size"),
        RelocTarget::Global(n) => format!("g{n}"),
        RelocTarget::DataSegment(n) => format!("d{n}"),
        RelocTarget::Runtime(name) => format!("bh_{name}"),
        RelocTarget::MemoryMax(k) => format!("mem{k}_max"),
        RelocTarget::Table(t) => format!("table{t}"),
        RelocTarget::TableSize(t) => format!("table{t}_size"),
        RelocTarget::FuncDescriptor(n) => format!("fd{n}"),
        RelocTarget::TypeId(n) => format!("type{n}"),
        RelocTarget::StackLimit => "__bulkhead_stack_limit".to_string(),
    }
}

fn reloc_name(k: RelocKind) -> &'static str {
    match k {
        RelocKind::ThumbCall => "R_ARM_THM_CALL",
        RelocKind::ThumbJump24 => "R_ARM_THM_JUMP24",
        RelocKind::ThumbMovwAbsNc => "R_ARM_THM_MOVW_ABS_NC",
        RelocKind::ThumbMovtAbs => "R_ARM_THM_MOVT_ABS",
        RelocKind::Abs32 => "R_ARM_ABS32",
    }
}

fn emit_function(out: &mut String, name: &str, c: &CompiledFunction) {
    let _ = writeln!(
        out,
        ".text\n.align 2\n.global {name}\n.type {name}, %function\n.thumb_func\n{name}:"
    );
    for chunk in c.code.chunks(16) {
        let bytes: Vec<String> = chunk.iter().map(|b| format!("0x{b:02x}")).collect();
        let _ = writeln!(out, ".byte {}", bytes.join(","));
    }
    for r in &c.relocs {
        let _ = writeln!(
            out,
            ".reloc {name}+{}, {}, {}",
            r.offset,
            reloc_name(r.kind),
            symbol(&r.target)
        );
    }
    let _ = writeln!(out, ".size {name}, .-{name}");
}

fn work_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("thumb_exec_qemu");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> std::process::Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

#[test]
fn executes_under_qemu() {
    if !tools_available() {
        eprintln!("skipping: arm-none-eabi-gcc or qemu-arm not installed");
        return;
    }
    let suite = build_suite();
    let module = ModuleInfo {
        funcs: suite.sigs.clone(),
        types: Vec::new(),
        globals: vec![Type::I32; 4],
        num_memories: 2,
    };
    let isa = TargetIsa {
        cpu: Cpu::CortexM4,
        hard_float: false,
    };
    let mut asm = String::from(".syntax unified\n.thumb\n");
    // Every function goes through regalloc2's checker.
    for case in &suite.cases {
        let c = compile_function_checked(
            &case.func,
            &module,
            &isa,
            &BackendOptions { emit_asm: true },
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", case.func));
        if case.func.name == "long_branches" {
            // Relaxation widened the far branches and kept the near ones short.
            let listing = c.asm.as_ref().unwrap();
            let branches: Vec<&str> = listing
                .lines()
                .filter_map(|l| l.get(25..))
                .filter(|t| t.starts_with('b') && !t.starts_with("bx") && !t.starts_with("bl"))
                .collect();
            assert!(
                branches
                    .iter()
                    .any(|t| t.split(' ').next().unwrap().ends_with(".w")),
                "{listing}"
            );
            assert!(
                branches
                    .iter()
                    .any(|t| !t.split(' ').next().unwrap().ends_with(".w")),
                "{listing}"
            );
        }
        emit_function(&mut asm, &format!("f{}", case.func.index.0), &c);
    }
    for (name, c) in runtime_functions(&isa) {
        assert!(
            c.relocs.iter().all(|r| r.target == RelocTarget::StackLimit),
            "runtime {name} has relocations other than the stack limit"
        );
        emit_function(&mut asm, &format!("bh_{name}"), &c);
    }

    // C driver: normal calls in one run; each trapping call in its own run
    // (selected by argv[1]).
    let mut c = String::from("#include <stdio.h>\n#include <stdint.h>\n#include <stdlib.h>\n");
    let _ = writeln!(
        c,
        "uint8_t mem0[{MEM0_SIZE}] __attribute__((aligned(8)));\nuint32_t mem0_size = {MEM0_SIZE};"
    );
    let _ = writeln!(
        c,
        "uint8_t mem1[{MEM1_SIZE}] __attribute__((aligned(8)));\nuint32_t mem1_size = {MEM1_SIZE};"
    );
    let _ = writeln!(c, "uint32_t g0, g1, g2, g3;");
    // The stack limit the prologues check (set in main, 1 MiB below its frame).
    let _ = writeln!(c, "uint32_t __bulkhead_stack_limit;");
    let data: Vec<String> = DATA0.iter().map(|b| b.to_string()).collect();
    let _ = writeln!(c, "const uint8_t d0[] = {{{}}};", data.join(","));
    let mut main_normal = String::new();
    let mut traps: Vec<(usize, usize)> = Vec::new();
    let mut trap_switch = String::new();
    for (ci, case) in suite.cases.iter().enumerate() {
        let idx = case.func.index.0;
        let np = case.func.sig.params.len();
        let has_result = !case.func.sig.results.is_empty();
        let params: Vec<&str> = vec!["uint32_t"; np];
        let _ = writeln!(
            c,
            "extern uint32_t f{idx}({});",
            if np == 0 {
                "void".to_string()
            } else {
                params.join(", ")
            }
        );
        let call = |args: &[u32]| -> String {
            let a: Vec<String> = args.iter().map(|x| format!("{x}u")).collect();
            format!("f{idx}({})", a.join(", "))
        };
        let _ = has_result;
        let normal: Vec<&(Vec<u32>, Expect)> =
            case.calls.iter().filter(|c| c.1 != Expect::Trap).collect();
        if !normal.is_empty() {
            let w = np.max(1);
            let rows: Vec<String> = normal
                .iter()
                .map(|(a, _)| {
                    let mut a = a.clone();
                    a.resize(w, 0);
                    format!(
                        "{{{}}}",
                        a.iter()
                            .map(|x| format!("{x}u"))
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                })
                .collect();
            let _ = writeln!(
                c,
                "static const uint32_t args{ci}[][{w}] = {{{}}};",
                rows.join(",")
            );
            let av: Vec<String> = (0..np).map(|k| format!("args{ci}[k][{k}]")).collect();
            let _ = writeln!(
                main_normal,
                "  for (int k = 0; k < {}; k++) printf(\"{ci} %d %lu\\n\", k, (unsigned long)f{idx}({}));",
                normal.len(),
                av.join(", ")
            );
        }
        for (k, (args, e)) in case.calls.iter().enumerate() {
            if *e == Expect::Trap {
                let _ = writeln!(
                    trap_switch,
                    "    case {}: printf(\"returned %lu\\n\", (unsigned long){}); break;",
                    traps.len(),
                    call(args)
                );
                traps.push((ci, k));
            }
        }
    }
    let _ = writeln!(
        c,
        "int main(int argc, char **argv) {{\n  __bulkhead_stack_limit = (uint32_t)__builtin_frame_address(0) - 0x100000;\n  if (argc > 1) {{\n    printf(\"start\\n\"); fflush(stdout);\n    switch (atoi(argv[1])) {{\n{trap_switch}    }}\n    return 0;\n  }}\n{main_normal}  printf(\"done\\n\");\n  return 0;\n}}"
    );
    let dir = work_dir();
    std::fs::write(dir.join("code.s"), &asm).unwrap();
    std::fs::write(dir.join("driver.c"), &c).unwrap();
    let elf = dir.join("test.elf");
    let out = run(Command::new("arm-none-eabi-gcc")
        .args(["-mcpu=cortex-m3", "-mthumb", "-O1", "--specs=rdimon.specs"])
        .arg(dir.join("driver.c"))
        .arg(dir.join("code.s"))
        .arg("-o")
        .arg(&elf));
    assert!(
        out.status.success(),
        "link failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut failures = Vec::new();
    let mut checked = 0;
    // The same code on ARMv7-M (M3), ARMv7E-M (M4; M7 is the same ISA) and
    // ARMv8-M Mainline (M33); the driver is built for cortex-m3. On cortex-m33
    // qemu-arm does not take rdimon's semihosting exit, so only the printed
    // "done" is required there.
    let cpus = ["cortex-m4", "cortex-m3", "cortex-m33"];
    // One qemu process per core, concurrently.
    let runs: Vec<_> = cpus
        .iter()
        .map(|cpu| {
            let elf = elf.clone();
            let cpu = cpu.to_string();
            std::thread::spawn(move || run(Command::new("qemu-arm").args(["-cpu", &cpu]).arg(&elf)))
        })
        .collect();
    for (cpu, handle) in cpus.into_iter().zip(runs) {
        let out = handle.join().expect("qemu thread");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("\ndone\n"),
            "{cpu}: run did not finish: {:?}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        for (ci, case) in suite.cases.iter().enumerate() {
            let normal: Vec<&(Vec<u32>, Expect)> =
                case.calls.iter().filter(|c| c.1 != Expect::Trap).collect();
            for (k, (args, e)) in normal.iter().enumerate() {
                let prefix = format!("{ci} {k} ");
                let got = stdout
                    .lines()
                    .find(|l| l.starts_with(&prefix))
                    .and_then(|l| l[prefix.len()..].parse::<u32>().ok());
                checked += 1;
                if got
                    != Some(match e {
                        Expect::Value(x) => *x,
                        Expect::Trap => unreachable!(),
                    })
                {
                    failures.push(format!(
                        "{cpu}: {}({args:x?}): expected {e:x?}, got {got:x?}",
                        case.func.name
                    ));
                }
            }
        }
    }
    for (t, &(ci, k)) in traps.iter().enumerate() {
        let out = run(Command::new("qemu-arm")
            .args(["-cpu", "cortex-m4"])
            .arg(&elf)
            .arg(t.to_string()));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        checked += 1;
        // qemu-arm (Linux user mode) reports UDF as SIGILL, except
        // `udf #1`, the Linux Thumb breakpoint, as SIGTRAP.
        let trapped = stdout.contains("start")
            && !stdout.contains("returned")
            && (stderr.contains("Illegal instruction") || stderr.contains("Trace/breakpoint trap"));
        if !trapped {
            let case = &suite.cases[ci];
            failures.push(format!(
                "{}({:x?}): expected a trap (UDF), got {stdout:?} {stderr:?}",
                case.func.name, case.calls[k].0
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} calls failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{checked} calls checked under qemu-arm");
    let _ = Path::new("");
}

/// The `--emit-asm` listing is real assembly: re-assembling every listed
/// instruction with llvm-mc gives back exactly the emitted bytes.
#[test]
fn listings_reassemble_with_llvm_mc() {
    if Command::new("llvm-mc").arg("--version").output().is_err()
        || Command::new("arm-none-eabi-objcopy")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("skipping: llvm-mc or arm-none-eabi-objcopy not installed");
        return;
    }
    let suite = build_suite();
    let module = ModuleInfo {
        funcs: suite.sigs.clone(),
        types: Vec::new(),
        globals: vec![Type::I32; 4],
        num_memories: 2,
    };
    let isa = TargetIsa {
        cpu: Cpu::CortexM4,
        hard_float: false,
    };
    let mut funcs: Vec<(String, CompiledFunction)> = suite
        .cases
        .iter()
        .map(|case| {
            let c = compile_function_checked(
                &case.func,
                &module,
                &isa,
                &BackendOptions { emit_asm: true },
            )
            .unwrap_or_else(|e| panic!("{e}"));
            (case.func.name.clone(), c)
        })
        .collect();
    // The i64 suite too (a sample: every distinct function name prefix).
    let suite64 = build_suite64();
    let module64 = ModuleInfo {
        funcs: suite64.sigs.clone(),
        types: Vec::new(),
        globals: vec![Type::I32, Type::I32, Type::I32, Type::I32, Type::I64],
        num_memories: 1,
    };
    for case in suite64.cases.iter().step_by(3) {
        let c = compile_function_checked(&case.func, &module64, &isa, &BackendOptions { emit_asm: true })
            .unwrap_or_else(|e| panic!("{e}"));
        funcs.push((case.func.name.clone(), c));
    }
    funcs.extend(
        runtime_functions(&isa)
            .into_iter()
            .map(|(n, c)| (n.to_string(), c)),
    );
    let dir = work_dir();
    // One assembler run for everything: each function in its own section.
    let mut src = String::from(".syntax unified\n.thumb\n");
    for (i, (_, c)) in funcs.iter().enumerate() {
        let _ = writeln!(src, ".section .text.f{i},\"ax\",%progbits");
        for line in c.asm.as_ref().unwrap().lines() {
            if !line.starts_with("  ") {
                continue; // label
            }
            // "  {offset:6x}:  {bytes:<12}  {text}" or "  {offset}:  .hword ..."
            let rest = &line[11..];
            let text = if rest.starts_with(".hword") {
                rest
            } else {
                &rest[14..]
            };
            let text = text.split("  @").next().unwrap();
            let _ = writeln!(src, "  {text}");
        }
    }
    let s = dir.join("listing.s");
    let o = dir.join("listing.o");
    std::fs::write(&s, &src).unwrap();
    let out = run(Command::new("llvm-mc")
        .args(["-triple=thumbv7em-none-eabi", "-filetype=obj", "-o"])
        .arg(&o)
        .arg(&s));
    assert!(
        out.status.success(),
        "llvm-mc rejected the listing:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (i, (name, c)) in funcs.iter().enumerate() {
        let bin = dir.join(format!("f{i}.bin"));
        let out = run(Command::new("arm-none-eabi-objcopy")
            .args(["-O", "binary", &format!("--only-section=.text.f{i}")])
            .arg(&o)
            .arg(&bin));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(&bin).unwrap();
        assert_eq!(
            bytes,
            c.code,
            "{name}: llvm-mc assembled the listing differently:\n{}",
            c.asm.as_ref().unwrap()
        );
    }
}

// ---------------------------------------------------------------------------
// i64: register pairs, AAPCS pairs, 64-bit runtime division, stack limit.
//
// A second suite with typed signatures: the C driver declares every
// function with uint32_t/uint64_t parameters, so gcc's own AAPCS code is
// the oracle for incoming i64 arguments and results (and a C function
// called from compiled code for outgoing ones). Expected values come from
// Rust's u64/i64 arithmetic on the IR's total-division spec.

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect64 {
    Value(u64),
    Trap,
}

struct Case64 {
    func: Function,
    calls: Vec<(Vec<u64>, Expect64)>,
}

struct Suite64 {
    cases: Vec<Case64>,
    sigs: Vec<Signature>,
    /// Functions defined by the C driver: (index, C definition).
    c_funcs: Vec<(u32, String)>,
}

fn e64(x: u64) -> Expect64 {
    Expect64::Value(x)
}

impl Suite64 {
    fn add(
        &mut self,
        name: &str,
        params: &[Type],
        results: &[Type],
        calls: Vec<(Vec<u64>, Expect64)>,
        body: impl FnOnce(&mut FunctionBuilder, &[Value]),
    ) -> u32 {
        let idx = self.sigs.len() as u32;
        let sig = Signature {
            params: params.to_vec(),
            results: results.to_vec(),
        };
        self.sigs.push(sig.clone());
        let mut f = Function::new(FuncIdx(idx), name, sig);
        {
            let mut b = FunctionBuilder::new(&mut f);
            let e = b.create_block();
            b.switch_to_block(e);
            let ps: Vec<Value> = params
                .iter()
                .map(|&t| b.append_block_param(e, t))
                .collect();
            body(&mut b, &ps);
        }
        if let Err(e) = verify(&f) {
            panic!("test IR for {name} does not verify: {e}\n{f}");
        }
        self.cases.push(Case64 { func: f, calls });
        idx
    }

    /// A function the C driver defines (`f<index>`), called by compiled code.
    fn add_c(&mut self, params: &[Type], results: &[Type], body: &str) -> u32 {
        let idx = self.sigs.len() as u32;
        self.sigs.push(Signature {
            params: params.to_vec(),
            results: results.to_vec(),
        });
        let ps: Vec<String> = params
            .iter()
            .enumerate()
            .map(|(i, t)| format!("{} p{i}", c_type(*t)))
            .collect();
        let def = format!(
            "{} f{idx}({}) {{ {body} }}",
            results.first().map_or("void", |t| c_type(*t)),
            ps.join(", ")
        );
        self.c_funcs.push((idx, def));
        idx
    }
}

fn c_type(t: Type) -> &'static str {
    match t {
        Type::I32 => "uint32_t",
        Type::I64 => "uint64_t",
        other => panic!("no C type for {other} in this test"),
    }
}

const VALS64: [u64; 22] = [
    0,
    1,
    2,
    3,
    31,
    32,
    33,
    63,
    64,
    65,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_ffff_fffe,
    0x1234_5678_9abc_def0,
    0xdead_beef_0000_0001,
    0x0000_0001_ffff_ffff,
];

/// Boundary values plus deterministic pseudo-random ones (xorshift64*),
/// some with small high words (the runtime division's fast path).
fn vals64() -> Vec<u64> {
    let mut v = VALS64.to_vec();
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..14 {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        let r = s.wrapping_mul(0x2545_f491_4f6c_dd1d);
        v.push(match i % 3 {
            0 => r,
            1 => r >> 33,
            _ => r >> (i * 4),
        });
    }
    v
}

fn pairs64() -> Vec<(u64, u64)> {
    let v = vals64();
    v.iter()
        .flat_map(|&x| v.iter().map(move |&y| (x, y)))
        .collect()
}

fn bin64_ref(op: BinaryOp, x: u64, y: u64) -> u64 {
    let (sx, sy) = (x as i64, y as i64);
    match op {
        BinaryOp::Add => x.wrapping_add(y),
        BinaryOp::Sub => x.wrapping_sub(y),
        BinaryOp::Mul => x.wrapping_mul(y),
        BinaryOp::DivS => {
            if y == 0 {
                0
            } else {
                sx.wrapping_div(sy) as u64
            }
        }
        BinaryOp::DivU => x.checked_div(y).unwrap_or(0),
        BinaryOp::RemS => {
            if y == 0 {
                x
            } else {
                sx.wrapping_rem(sy) as u64
            }
        }
        BinaryOp::RemU => {
            if y == 0 {
                x
            } else {
                x % y
            }
        }
        BinaryOp::And => x & y,
        BinaryOp::Or => x | y,
        BinaryOp::Xor => x ^ y,
        BinaryOp::Shl => x.wrapping_shl((y & 63) as u32),
        BinaryOp::ShrS => (sx >> (y & 63)) as u64,
        BinaryOp::ShrU => x >> (y & 63),
        BinaryOp::Rotl => x.rotate_left((y & 63) as u32),
        BinaryOp::Rotr => x.rotate_right((y & 63) as u32),
    }
}

fn un64_ref(op: UnaryOp, x: u64) -> u64 {
    match op {
        UnaryOp::Clz => x.leading_zeros() as u64,
        UnaryOp::Ctz => x.trailing_zeros() as u64,
        UnaryOp::Popcnt => x.count_ones() as u64,
        UnaryOp::Eqz => (x == 0) as u64,
        UnaryOp::Extend8S => x as u8 as i8 as i64 as u64,
        UnaryOp::Extend16S => x as u16 as i16 as i64 as u64,
        UnaryOp::Extend32S => x as u32 as i32 as i64 as u64,
    }
}

fn icmp64_ref(cc: IntCC, x: u64, y: u64) -> bool {
    let (sx, sy) = (x as i64, y as i64);
    match cc {
        IntCC::Eq => x == y,
        IntCC::Ne => x != y,
        IntCC::LtS => sx < sy,
        IntCC::LtU => x < y,
        IntCC::GtS => sx > sy,
        IntCC::GtU => x > y,
        IntCC::LeS => sx <= sy,
        IntCC::LeU => x <= y,
        IntCC::GeS => sx >= sy,
        IntCC::GeU => x >= y,
    }
}

/// Little-endian load of `kind` from `bytes`.
fn load_ref(kind: LoadKind, bytes: &[u8; 8]) -> u64 {
    let w = u64::from_le_bytes(*bytes);
    match kind {
        LoadKind::I64 => w,
        LoadKind::I64_8S => w as u8 as i8 as i64 as u64,
        LoadKind::I64_8U => w as u8 as u64,
        LoadKind::I64_16S => w as u16 as i16 as i64 as u64,
        LoadKind::I64_16U => w as u16 as u64,
        LoadKind::I64_32S => w as u32 as i32 as i64 as u64,
        LoadKind::I64_32U => w as u32 as u64,
        other => panic!("{other:?} is not an i64 load"),
    }
}

fn store_width(kind: StoreKind) -> usize {
    match kind {
        StoreKind::I64 => 8,
        StoreKind::I64_8 => 1,
        StoreKind::I64_16 => 2,
        StoreKind::I64_32 => 4,
        other => panic!("{other:?} is not an i64 store"),
    }
}

const SHIFT_KS: [u64; 12] = [0, 1, 5, 31, 32, 33, 40, 63, 64, 65, 100, 0xffff_ffff_0000_0021];
const CONSTS64: [u64; 6] = [
    0,
    1,
    0xffff_ffff_ffff_ffff,
    0x1_0000_0000,
    0x8000_0000_0000_0000,
    0x0000_00ff_0000_ff00,
];
const LOADS64: [LoadKind; 7] = [
    LoadKind::I64,
    LoadKind::I64_8S,
    LoadKind::I64_8U,
    LoadKind::I64_16S,
    LoadKind::I64_16U,
    LoadKind::I64_32S,
    LoadKind::I64_32U,
];
const STORES64: [StoreKind; 4] = [
    StoreKind::I64,
    StoreKind::I64_8,
    StoreKind::I64_16,
    StoreKind::I64_32,
];
const FILL64: u64 = 0xf0e1_d2c3_b4a5_9687;

fn build_suite64() -> Suite64 {
    use Type::{I32, I64};
    let mut s = Suite64 {
        cases: Vec::new(),
        sigs: Vec::new(),
        c_funcs: Vec::new(),
    };
    let vals = vals64();

    // Binary operations: register pairs, and constants on either side.
    for op in BINOPS {
        let calls = pairs64()
            .into_iter()
            .map(|(x, y)| (vec![x, y], e64(bin64_ref(op, x, y))))
            .collect();
        s.add(&format!("bin64_{op}"), &[I64, I64], &[I64], calls, |b, p| {
            let r = b.binary(op, p[0], p[1]);
            b.ret(&[r]);
        });
        let shifty = matches!(
            op,
            BinaryOp::Shl | BinaryOp::ShrS | BinaryOp::ShrU | BinaryOp::Rotl | BinaryOp::Rotr
        );
        let ks: &[u64] = if shifty { &SHIFT_KS } else { &CONSTS64 };
        for &k in ks {
            let calls = vals
                .iter()
                .map(|&x| (vec![x], e64(bin64_ref(op, x, k))))
                .collect();
            s.add(&format!("bin64_{op}_rk{k:x}"), &[I64], &[I64], calls, |b, p| {
                let c = b.iconst(I64, k);
                let r = b.binary(op, p[0], c);
                b.ret(&[r]);
            });
            if !shifty {
                let calls = vals
                    .iter()
                    .map(|&x| (vec![x], e64(bin64_ref(op, k, x))))
                    .collect();
                s.add(&format!("bin64_{op}_kr{k:x}"), &[I64], &[I64], calls, |b, p| {
                    let c = b.iconst(I64, k);
                    let r = b.binary(op, c, p[0]);
                    b.ret(&[r]);
                });
            }
        }
    }
    // Unary operations.
    for op in [
        UnaryOp::Clz,
        UnaryOp::Ctz,
        UnaryOp::Popcnt,
        UnaryOp::Extend8S,
        UnaryOp::Extend16S,
        UnaryOp::Extend32S,
    ] {
        let calls = vals
            .iter()
            .map(|&x| (vec![x], e64(un64_ref(op, x))))
            .collect();
        s.add(&format!("un64_{op}"), &[I64], &[I64], calls, |b, p| {
            let r = b.unary(op, p[0]);
            b.ret(&[r]);
        });
    }
    let calls = vals
        .iter()
        .map(|&x| (vec![x], e64((x == 0) as u64)))
        .collect();
    s.add("eqz64", &[I64], &[I32], calls, |b, p| {
        let r = b.unary(UnaryOp::Eqz, p[0]);
        b.ret(&[r]);
    });
    // Constants.
    for k in CONSTS64.iter().chain(&[0x1234_5678_9abc_def0u64, 0xffff_ffff]) {
        let k = *k;
        s.add(&format!("const64_{k:x}"), &[], &[I64], vec![(vec![], e64(k))], |b, _| {
            let c = b.iconst(I64, k);
            b.ret(&[c]);
        });
    }
    // Comparisons: materialized, fused into selects (i64 and i32 results)
    // and branches.
    for cc in CCS {
        let calls = pairs64()
            .into_iter()
            .map(|(x, y)| (vec![x, y], e64(icmp64_ref(cc, x, y) as u64)))
            .collect();
        s.add(&format!("icmp64_{cc}"), &[I64, I64], &[I32], calls, |b, p| {
            let r = b.icmp(cc, p[0], p[1]);
            b.ret(&[r]);
        });
        let (t, f) = (0x1111_2222_3333_4444u64, 0x5555_6666_7777_8888u64);
        let calls = pairs64()
            .into_iter()
            .map(|(x, y)| {
                (
                    vec![x, y, t, f],
                    e64(if icmp64_ref(cc, x, y) { t } else { f }),
                )
            })
            .collect();
        s.add(
            &format!("select64_icmp64_{cc}"),
            &[I64, I64, I64, I64],
            &[I64],
            calls,
            |b, p| {
                let c = b.icmp(cc, p[0], p[1]);
                let r = b.select(c, p[2], p[3]);
                b.ret(&[r]);
            },
        );
        let calls = pairs64()
            .into_iter()
            .take(200)
            .map(|(x, y)| {
                (
                    vec![x, y, 111, 222],
                    e64(if icmp64_ref(cc, x, y) { 111 } else { 222 }),
                )
            })
            .collect();
        s.add(
            &format!("select32_icmp64_{cc}"),
            &[I64, I64, I32, I32],
            &[I32],
            calls,
            |b, p| {
                let c = b.icmp(cc, p[0], p[1]);
                let r = b.select(c, p[2], p[3]);
                b.ret(&[r]);
            },
        );
        let calls = pairs64()
            .into_iter()
            .map(|(x, y)| {
                (
                    vec![x, y],
                    e64(if icmp64_ref(cc, x, y) {
                        x.wrapping_add(1)
                    } else {
                        y.wrapping_mul(3)
                    }),
                )
            })
            .collect();
        s.add(&format!("brif_icmp64_{cc}"), &[I64, I64], &[I64], calls, |b, p| {
            let t = b.create_block();
            let e = b.create_block();
            let j = b.create_block();
            let r = b.append_block_param(j, I64);
            let c = b.icmp(cc, p[0], p[1]);
            b.brif(c, t, &[], e, &[]);
            b.switch_to_block(t);
            let one = b.iconst(I64, 1);
            let a = b.binary(BinaryOp::Add, p[0], one);
            b.jump(j, &[a]);
            b.switch_to_block(e);
            let three = b.iconst(I64, 3);
            let m = b.binary(BinaryOp::Mul, p[1], three);
            b.jump(j, &[m]);
            b.switch_to_block(j);
            b.ret(&[r]);
        });
    }
    // A trap fused with a 64-bit comparison (a few trapping calls).
    let mut calls: Vec<(Vec<u64>, Expect64)> = pairs64()
        .into_iter()
        .filter(|&(x, y)| !icmp64_ref(IntCC::LtS, x, y))
        .take(100)
        .map(|(x, y)| (vec![x, y], e64(7)))
        .collect();
    calls.push((vec![0x8000_0000_0000_0000, 0], Expect64::Trap));
    calls.push((vec![1, 0x1_0000_0000], Expect64::Trap));
    s.add("trap_icmp64_lts", &[I64, I64], &[I32], calls, |b, p| {
        let c = b.icmp(IntCC::LtS, p[0], p[1]);
        b.trapnz(c, TrapCode::IntegerOverflow);
        let r = b.iconst(I32, 7);
        b.ret(&[r]);
    });
    // select of i64 on a plain i32.
    let calls = vals
        .iter()
        .flat_map(|&x| [(vec![0, x, !x], e64(!x)), (vec![5, x, !x], e64(x))])
        .collect();
    s.add("select64_plain", &[I32, I64, I64], &[I64], calls, |b, p| {
        let r = b.select(p[0], p[1], p[2]);
        b.ret(&[r]);
    });
    // Conversions.
    let v32: Vec<u64> = VALS.iter().map(|&x| x as u64).collect();
    let calls = v32
        .iter()
        .map(|&x| (vec![x], e64(x as u32 as i32 as i64 as u64)))
        .collect();
    s.add("sextend", &[I32], &[I64], calls, |b, p| {
        let r = b.convert(ConvertOp::SExtend, I64, p[0]);
        b.ret(&[r]);
    });
    let calls = v32.iter().map(|&x| (vec![x], e64(x))).collect();
    s.add("uextend", &[I32], &[I64], calls, |b, p| {
        let r = b.convert(ConvertOp::UExtend, I64, p[0]);
        b.ret(&[r]);
    });
    let calls = vals
        .iter()
        .map(|&x| (vec![x], e64(x as u32 as u64)))
        .collect();
    s.add("wrap", &[I64], &[I32], calls, |b, p| {
        let r = b.convert(ConvertOp::Wrap, I32, p[0]);
        b.ret(&[r]);
    });

    // Every store width followed by every load kind, at unaligned
    // addresses, with small and large immediate offsets.
    let m0 = MemIdx(0);
    for st in STORES64 {
        for ld in LOADS64 {
            for off in [0u32, 7, 5000] {
                let mut calls = Vec::new();
                for addr in [0u64, 1, 2, 3, 5, 4093, 60000] {
                    for v in [0x8877_6655_4433_2211u64, 0x0102_0304_f5f6_f7f8, 0] {
                        let mut bytes = FILL64.to_le_bytes();
                        let w = store_width(st);
                        bytes[..w].copy_from_slice(&v.to_le_bytes()[..w]);
                        calls.push((vec![addr, v], e64(load_ref(ld, &bytes))));
                    }
                }
                s.add(
                    &format!("mem64_{st:?}_{ld:?}_{off}"),
                    &[I32, I64],
                    &[I64],
                    calls,
                    |b, p| {
                        let a = b.mem_addr(m0, p[0]);
                        let fill = b.iconst(I64, FILL64);
                        b.store(StoreKind::I64, a, fill, off);
                        b.store(st, a, p[1], off);
                        let r = b.load(ld, a, off);
                        b.ret(&[r]);
                    },
                );
            }
        }
    }
    // A constant address (base + constant index folded into the offset).
    let calls = vals
        .iter()
        .map(|&v| (vec![v], e64(v ^ ((v >> 8) & 0xff))))
        .collect();
    s.add("mem64_const_addr", &[I64], &[I64], calls, |b, p| {
        let base = b.mem_base(m0);
        let k13 = b.iconst(I32, 13);
        let a = b.addr_add(base, k13);
        // Bytes 15..23.
        b.store(StoreKind::I64, a, p[0], 2);
        let r = b.load(LoadKind::I64, a, 2);
        // Byte 16 = byte 1 of the value.
        let k16 = b.iconst(I32, 16);
        let a16 = b.addr_add(base, k16);
        let byte = b.load(LoadKind::I64_8U, a16, 0);
        let r = b.binary(BinaryOp::Xor, r, byte);
        b.ret(&[r]);
    });
    // i64 global: 8-byte storage, low word first.
    let calls = vals
        .iter()
        .map(|&v| (vec![v], e64(v.wrapping_add(1))))
        .collect();
    s.add("global64", &[I64], &[I64], calls, |b, p| {
        b.global_set(GlobalIdx(4), p[0]);
        let g = b.global_get(GlobalIdx(4), I64);
        let one = b.iconst(I64, 1);
        let r = b.binary(BinaryOp::Add, g, one);
        b.ret(&[r]);
    });

    // Calls: AAPCS pairs in registers (skipping r1/r3) and 8-byte aligned
    // on the stack, into compiled code from C and into C from compiled code.
    let mix_ref = |a: u64, b: u64, c: u64, d: u64, e: u64, f: u64| -> u64 {
        (a as u32 as u64)
            .wrapping_add(b.wrapping_mul(3))
            .wrapping_add((c as u32 as u64).wrapping_mul(5))
            .wrapping_add(d.wrapping_mul(7))
            .wrapping_add(e.wrapping_mul(11))
            .wrapping_add((f as u32 as u64).wrapping_mul(13))
    };
    let mix_params = [I32, I64, I32, I64, I64, I32];
    let calls = pairs64()
        .into_iter()
        .take(50)
        .map(|(x, y)| {
            let a = [x & 0xffff_ffff, y, x >> 3 & 0xffff_ffff, x ^ y, x.wrapping_mul(y), y & 0xffff_ffff];
            (a.to_vec(), e64(mix_ref(a[0], a[1], a[2], a[3], a[4], a[5])))
        })
        .collect();
    let mix = s.add("mix", &mix_params, &[I64], calls, |b, p| {
        let k = |b: &mut FunctionBuilder, v: u64| b.iconst(I64, v);
        let a = b.convert(ConvertOp::UExtend, I64, p[0]);
        let c = b.convert(ConvertOp::UExtend, I64, p[2]);
        let f = b.convert(ConvertOp::UExtend, I64, p[5]);
        let mut acc = a;
        for (x, m) in [(p[1], 3), (c, 5), (p[3], 7), (p[4], 11), (f, 13)] {
            let km = k(b, m);
            let t = b.binary(BinaryOp::Mul, x, km);
            acc = b.binary(BinaryOp::Add, acc, t);
        }
        b.ret(&[acc]);
    });
    let c_mix_ref = |a: u64, b: u64, c: u64, d: u64, e: u64, f: u64| -> u64 {
        a ^ b.rotate_left(1) ^ (c << 7) ^ d.wrapping_mul(3) ^ e.wrapping_sub(9) ^ (f << 40)
    };
    let c_mix = s.add_c(
        &mix_params,
        &[I64],
        "return (uint64_t)p0 ^ ((p1 << 1) | (p1 >> 63)) ^ ((uint64_t)p2 << 7) ^ (p3 * 3) ^ (p4 - 9) ^ ((uint64_t)p5 << 40);",
    );
    let two = s.add("two_results64", &[I64], &[I64, I32], vec![], |b, p| {
        let one = b.iconst(I64, 1);
        let a = b.binary(BinaryOp::Add, p[0], one);
        let w = b.convert(ConvertOp::Wrap, I32, p[0]);
        let r = b.binary(BinaryOp::Add, w, w);
        b.ret(&[a, r]);
    });
    let calls = pairs64()
        .into_iter()
        .take(120)
        .map(|(x, y)| {
            let r1 = mix_ref(1, x, 2, y, x ^ y, 3);
            let r2 = c_mix_ref(4, y, 5, x, x.wrapping_add(y), 6);
            let (a, w) = (y.wrapping_add(1), (y as u32).wrapping_add(y as u32) as u64);
            (
                vec![x, y],
                e64(r1.wrapping_add(r2).wrapping_add(a).wrapping_add(w).wrapping_sub(x)),
            )
        })
        .collect();
    s.add("caller64", &[I64, I64], &[I64], calls, |b, p| {
        let (x, y) = (p[0], p[1]);
        let i = |b: &mut FunctionBuilder, v: u64| b.iconst(I32, v);
        let (c1, c2, c3) = (i(b, 1), i(b, 2), i(b, 3));
        let xy = b.binary(BinaryOp::Xor, x, y);
        let r1 = b.call(FuncIdx(mix), &[c1, x, c2, y, xy, c3], &[I64])[0];
        let (c4, c5, c6) = (i(b, 4), i(b, 5), i(b, 6));
        let s2 = b.binary(BinaryOp::Add, x, y);
        let r2 = b.call(FuncIdx(c_mix), &[c4, y, c5, x, s2, c6], &[I64])[0];
        let rs = b.call(FuncIdx(two), &[y], &[I64, I32]);
        let w = b.convert(ConvertOp::UExtend, I64, rs[1]);
        let t = b.binary(BinaryOp::Add, r1, r2);
        let t = b.binary(BinaryOp::Add, t, rs[0]);
        let t = b.binary(BinaryOp::Add, t, w);
        let t = b.binary(BinaryOp::Sub, t, x);
        b.ret(&[t]);
    });
    // Results beyond r0-r3 go through the caller's result area (after the
    // stack arguments): three i64 results, and five results after six
    // arguments (two words of them on the stack).
    let pick3 = s.add("pick3", &[I64, I64], &[I64, I64, I64], vec![], |b, p| {
        let t = b.binary(BinaryOp::Xor, p[0], p[1]);
        b.ret(&[p[0], p[1], t]);
    });
    let many = s.add(
        "many_results",
        &[I32, I64, I32, I64, I64, I32],
        &[I32, I64, I64, I32, I64],
        vec![],
        |b, p| {
            let s1 = b.binary(BinaryOp::Sub, p[1], p[3]);
            let s2 = b.binary(BinaryOp::Mul, p[4], p[4]);
            let w = b.binary(BinaryOp::Xor, p[0], p[5]);
            b.ret(&[p[2], s1, s2, w, p[4]]);
        },
    );
    let calls = pairs64()
        .into_iter()
        .take(80)
        .map(|(x, y)| {
            let z = x ^ y;
            let (a, c, f) = (x as u32, y as u32, (x >> 32) as u32);
            let d = x.wrapping_add(y);
            let many_sum = (c as u64)
                .wrapping_add(y.wrapping_sub(d).wrapping_mul(3))
                .wrapping_add(x.wrapping_mul(x).wrapping_mul(5))
                .wrapping_add(((a ^ f) as u64).wrapping_mul(7))
                .wrapping_add(x.wrapping_mul(11));
            (
                vec![x, y],
                e64(x.wrapping_add(y.rotate_left(1)).wrapping_add(z.wrapping_mul(3)).wrapping_add(many_sum)),
            )
        })
        .collect();
    s.add("stack_results", &[I64, I64], &[I64], calls, |b, p| {
        let (x, y) = (p[0], p[1]);
        let r = b.call(FuncIdx(pick3), &[x, y], &[I64, I64, I64]);
        let k1 = b.iconst(I64, 1);
        let yr = b.binary(BinaryOp::Rotl, r[1], k1);
        let k3 = b.iconst(I64, 3);
        let z3 = b.binary(BinaryOp::Mul, r[2], k3);
        let t = b.binary(BinaryOp::Add, r[0], yr);
        let t = b.binary(BinaryOp::Add, t, z3);
        let a = b.convert(ConvertOp::Wrap, I32, x);
        let c = b.convert(ConvertOp::Wrap, I32, y);
        let k32 = b.iconst(I64, 32);
        let xh = b.binary(BinaryOp::ShrU, x, k32);
        let f = b.convert(ConvertOp::Wrap, I32, xh);
        let d = b.binary(BinaryOp::Add, x, y);
        let m = b.call(FuncIdx(many), &[a, y, c, d, x, f], &[I32, I64, I64, I32, I64]);
        let m0 = b.convert(ConvertOp::UExtend, I64, m[0]);
        let m3 = b.convert(ConvertOp::UExtend, I64, m[3]);
        let mut acc = t;
        for (v, k) in [(m0, 1u64), (m[1], 3), (m[2], 5), (m3, 7), (m[4], 11)] {
            let kk = b.iconst(I64, k);
            let vk = b.binary(BinaryOp::Mul, v, kk);
            acc = b.binary(BinaryOp::Add, acc, vk);
        }
        b.ret(&[acc]);
    });
    // Eleven results (19 words, 15 of them in the result area: more than
    // there are registers).
    let eleven_tys = [I64, I32, I32, I64, I64, I64, I64, I64, I64, I32, I64];
    let eleven = s.add("eleven_results", &[I64], &eleven_tys, vec![], |b, p| {
        let rs: Vec<Value> = eleven_tys
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let k = b.iconst(I64, i as u64 * 0x1_0000_0001 + 1);
                let v = b.binary(BinaryOp::Mul, p[0], k);
                if t == I32 {
                    b.convert(ConvertOp::Wrap, I32, v)
                } else {
                    v
                }
            })
            .collect();
        b.ret(&rs);
    });
    let calls = vals
        .iter()
        .map(|&x| {
            let sum = eleven_tys.iter().enumerate().fold(0u64, |acc, (i, &t)| {
                let v = x.wrapping_mul(i as u64 * 0x1_0000_0001 + 1);
                let v = if t == I32 { v as u32 as u64 } else { v };
                acc.wrapping_mul(3).wrapping_add(v)
            });
            (vec![x], e64(sum))
        })
        .collect();
    s.add("eleven_results_caller", &[I64], &[I64], calls, |b, p| {
        let rs = b.call(FuncIdx(eleven), &[p[0]], &eleven_tys);
        let mut acc = b.iconst(I64, 0);
        let k3 = b.iconst(I64, 3);
        for (&r, &t) in rs.iter().zip(&eleven_tys) {
            let v = if t == I32 { b.convert(ConvertOp::UExtend, I64, r) } else { r };
            let m = b.binary(BinaryOp::Mul, acc, k3);
            acc = b.binary(BinaryOp::Add, m, v);
        }
        b.ret(&[acc]);
    });
    // Register pressure: 16 i64 values (32 registers) live across a call.
    let pressure_ref = |x: u64| -> u64 {
        let vals: Vec<u64> = (0..16u64)
            .map(|i| x.wrapping_mul(i + 3).wrapping_add((i * i) << 33))
            .collect();
        let m = mix_ref(7, x, 8, x, x, 9);
        vals.iter()
            .enumerate()
            .fold(m, |acc, (i, &v)| acc.wrapping_add(v.rotate_left(i as u32)))
    };
    let calls = vals.iter().map(|&x| (vec![x], e64(pressure_ref(x)))).collect();
    s.add("pressure64", &[I64], &[I64], calls, |b, p| {
        let x = p[0];
        let vs: Vec<Value> = (0..16u64)
            .map(|i| {
                let k = b.iconst(I64, i + 3);
                let m = b.binary(BinaryOp::Mul, x, k);
                let c = b.iconst(I64, (i * i) << 33);
                b.binary(BinaryOp::Add, m, c)
            })
            .collect();
        let (c7, c8, c9) = (b.iconst(I32, 7), b.iconst(I32, 8), b.iconst(I32, 9));
        let mut acc = b.call(FuncIdx(mix), &[c7, x, c8, x, x, c9], &[I64])[0];
        for (i, &v) in vs.iter().enumerate() {
            let k = b.iconst(I64, i as u64);
            let r = b.binary(BinaryOp::Rotl, v, k);
            acc = b.binary(BinaryOp::Add, acc, r);
        }
        b.ret(&[acc]);
    });
    // Loops with i64 block parameters; recursion through the stack check.
    let fac_ref = |n: u64| (1..=n).fold(1u64, |a, i| a.wrapping_mul(i));
    let calls = [0u64, 1, 2, 5, 20, 21, 25, 100]
        .iter()
        .map(|&n| (vec![n], e64(fac_ref(n))))
        .collect();
    s.add("fac64_loop", &[I64], &[I64], calls, |b, p| {
        let head = b.create_block();
        let body = b.create_block();
        let exit = b.create_block();
        let i = b.append_block_param(head, I64);
        let acc = b.append_block_param(head, I64);
        let one = b.iconst(I64, 1);
        b.jump(head, &[one, one]);
        b.switch_to_block(head);
        let c = b.icmp(IntCC::LeU, i, p[0]);
        b.brif(c, body, &[], exit, &[]);
        b.switch_to_block(body);
        let acc2 = b.binary(BinaryOp::Mul, acc, i);
        let one2 = b.iconst(I64, 1);
        let i2 = b.binary(BinaryOp::Add, i, one2);
        b.jump(head, &[i2, acc2]);
        b.switch_to_block(exit);
        b.ret(&[acc]);
    });
    let rec = s.next_index();
    let calls = [0u64, 1, 2, 5, 20, 25, 1000]
        .iter()
        .map(|&n| (vec![n], e64(fac_ref(n))))
        .collect();
    s.add("fac64_rec", &[I64], &[I64], calls, |b, p| {
        let base = b.create_block();
        let step = b.create_block();
        let zero = b.iconst(I64, 0);
        let c = b.icmp(IntCC::Eq, p[0], zero);
        b.brif(c, base, &[], step, &[]);
        b.switch_to_block(base);
        let one = b.iconst(I64, 1);
        b.ret(&[one]);
        b.switch_to_block(step);
        let one = b.iconst(I64, 1);
        let n1 = b.binary(BinaryOp::Sub, p[0], one);
        let r = b.call(FuncIdx(rec), &[n1], &[I64])[0];
        let m = b.binary(BinaryOp::Mul, r, p[0]);
        b.ret(&[m]);
    });
    // Unbounded recursion: the prologue's stack-limit check traps (UDF #9)
    // before the stack runs out.
    let inf = s.next_index();
    s.add(
        "runaway_recursion",
        &[I64],
        &[I64],
        vec![(vec![1], Expect64::Trap)],
        |b, p| {
            let one = b.iconst(I64, 1);
            let n1 = b.binary(BinaryOp::Add, p[0], one);
            let r = b.call(FuncIdx(inf), &[n1], &[I64])[0];
            let r = b.binary(BinaryOp::Add, r, one);
            b.ret(&[r]);
        },
    );
    s
}

impl Suite64 {
    fn next_index(&self) -> u32 {
        self.sigs.len() as u32
    }
}

#[test]
fn executes_i64_under_qemu() {
    if !tools_available() {
        eprintln!("skipping: arm-none-eabi-gcc or qemu-arm not installed");
        return;
    }
    let suite = build_suite64();
    let module = ModuleInfo {
        funcs: suite.sigs.clone(),
        types: Vec::new(),
        globals: vec![Type::I32, Type::I32, Type::I32, Type::I32, Type::I64],
        num_memories: 1,
    };
    let isa = TargetIsa {
        cpu: Cpu::CortexM4,
        hard_float: false,
    };
    let mut asm = String::from(".syntax unified\n.thumb\n");
    for case in &suite.cases {
        let c = compile_function_checked(&case.func, &module, &isa, &BackendOptions { emit_asm: true })
            .unwrap_or_else(|e| panic!("{e}\n{}", case.func));
        let listing = c.asm.as_ref().unwrap();
        // Leaf functions without a frame skip the stack check; functions
        // that call check it.
        let calls_out = c.relocs.iter().any(|r| r.kind == RelocKind::ThumbCall);
        let checks = c.relocs.iter().any(|r| r.target == RelocTarget::StackLimit);
        if calls_out {
            assert!(checks && listing.contains("udf #9"), "{}: {listing}", case.func.name);
        }
        if case.func.name.starts_with("mem64") {
            assert!(!listing.contains("ldrd") && !listing.contains("strd"), "{listing}");
        }
        emit_function(&mut asm, &format!("f{}", case.func.index.0), &c);
    }
    for (name, c) in runtime_functions(&isa) {
        emit_function(&mut asm, &format!("bh_{name}"), &c);
    }
    let mut c = String::from("#include <stdio.h>\n#include <stdint.h>\n#include <stdlib.h>\n");
    let _ = writeln!(c, "uint8_t mem0[{MEM0_SIZE}] __attribute__((aligned(8)));\nuint32_t mem0_size = {MEM0_SIZE};");
    let _ = writeln!(c, "uint32_t g0, g1, g2, g3;\nuint64_t g4 __attribute__((aligned(8)));");
    let _ = writeln!(c, "uint32_t __bulkhead_stack_limit;");
    for (_, def) in &suite.c_funcs {
        let _ = writeln!(c, "{def}");
    }
    let mut main_normal = String::new();
    let mut trap_switch = String::new();
    let mut traps: Vec<(usize, usize)> = Vec::new();
    for (ci, case) in suite.cases.iter().enumerate() {
        let idx = case.func.index.0;
        let sig = &case.func.sig;
        let ret = match sig.results.as_slice() {
            [] => "void",
            [t] => c_type(*t),
            _ => continue, // internal multi-result ABI: called from compiled code only
        };
        let ps: Vec<&str> = sig.params.iter().map(|t| c_type(*t)).collect();
        let _ = writeln!(
            c,
            "extern {ret} f{idx}({});",
            if ps.is_empty() { "void".to_string() } else { ps.join(", ") }
        );
        let call_expr = |args: &str| format!("(uint64_t)f{idx}({args})");
        let normal: Vec<&(Vec<u64>, Expect64)> = case.calls.iter().filter(|c| c.1 != Expect64::Trap).collect();
        if !normal.is_empty() {
            let w = ps.len().max(1);
            let rows: Vec<String> = normal
                .iter()
                .map(|(a, _)| {
                    let mut a = a.clone();
                    a.resize(w, 0);
                    format!("{{{}}}", a.iter().map(|x| format!("{x:#x}ull")).collect::<Vec<_>>().join(","))
                })
                .collect();
            let _ = writeln!(c, "static const uint64_t args{ci}[][{w}] = {{{}}};", rows.join(","));
            let av: Vec<String> = ps.iter().enumerate().map(|(k, t)| format!("({t})args{ci}[k][{k}]")).collect();
            let _ = writeln!(
                main_normal,
                "  for (int k = 0; k < {}; k++) {{ uint64_t r = {}; printf(\"{ci} %d %08lx%08lx\\n\", k, (unsigned long)(r >> 32), (unsigned long)r); }}",
                normal.len(),
                call_expr(&av.join(", "))
            );
        }
        for (k, (args, e)) in case.calls.iter().enumerate() {
            if *e == Expect64::Trap {
                let av: Vec<String> = ps.iter().zip(args).map(|(t, x)| format!("({t}){x:#x}ull")).collect();
                let _ = writeln!(
                    trap_switch,
                    "    case {}: printf(\"returned %lu\\n\", (unsigned long){}); break;",
                    traps.len(),
                    call_expr(&av.join(", "))
                );
                traps.push((ci, k));
            }
        }
    }
    let _ = writeln!(
        c,
        "int main(int argc, char **argv) {{\n  __bulkhead_stack_limit = (uint32_t)__builtin_frame_address(0) - 0x100000;\n  if (argc > 1) {{\n    printf(\"start\\n\"); fflush(stdout);\n    switch (atoi(argv[1])) {{\n{trap_switch}    }}\n    return 0;\n  }}\n{main_normal}  printf(\"done\\n\");\n  return 0;\n}}"
    );
    let dir = work_dir().join("i64");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("code.s"), &asm).unwrap();
    std::fs::write(dir.join("driver.c"), &c).unwrap();
    let elf = dir.join("test.elf");
    let out = run(Command::new("arm-none-eabi-gcc")
        .args(["-mcpu=cortex-m3", "-mthumb", "-O1", "--specs=rdimon.specs"])
        .arg(dir.join("driver.c"))
        .arg(dir.join("code.s"))
        .arg("-o")
        .arg(&elf));
    assert!(out.status.success(), "link failed:\n{}", String::from_utf8_lossy(&out.stderr));

    let mut failures = Vec::new();
    let mut checked = 0;
    let cpus = ["cortex-m4", "cortex-m3", "cortex-m33"];
    let runs: Vec<_> = cpus
        .iter()
        .map(|cpu| {
            let elf = elf.clone();
            let cpu = cpu.to_string();
            std::thread::spawn(move || run(Command::new("qemu-arm").args(["-cpu", &cpu]).arg(&elf)))
        })
        .collect();
    for (cpu, handle) in cpus.into_iter().zip(runs) {
        let out = handle.join().expect("qemu thread");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("\ndone\n"),
            "{cpu}: run did not finish: {:?}\n{}\n{}",
            out.status,
            stdout.lines().rev().take(5).collect::<Vec<_>>().join("\n"),
            String::from_utf8_lossy(&out.stderr)
        );
        let got: std::collections::HashMap<&str, &str> = stdout
            .lines()
            .filter_map(|l| {
                let (a, rest) = l.split_once(' ')?;
                let (b, v) = rest.split_once(' ')?;
                Some((&l[..a.len() + 1 + b.len()], v))
            })
            .collect();
        for (ci, case) in suite.cases.iter().enumerate() {
            if case.func.sig.results.len() > 1 {
                continue;
            }
            let normal: Vec<&(Vec<u64>, Expect64)> = case.calls.iter().filter(|c| c.1 != Expect64::Trap).collect();
            for (k, (args, e)) in normal.iter().enumerate() {
                let key = format!("{ci} {k}");
                let value = got.get(key.as_str()).and_then(|v| u64::from_str_radix(v, 16).ok());
                checked += 1;
                let Expect64::Value(x) = e else { unreachable!() };
                if value != Some(*x) {
                    failures.push(format!(
                        "{cpu}: {}({args:x?}): expected {x:#x}, got {value:x?}",
                        case.func.name
                    ));
                }
            }
        }
    }
    for (t, &(ci, k)) in traps.iter().enumerate() {
        let out = run(Command::new("qemu-arm").args(["-cpu", "cortex-m4"]).arg(&elf).arg(t.to_string()));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        checked += 1;
        let trapped = stdout.contains("start") && !stdout.contains("returned") && stderr.contains("Illegal instruction");
        if !trapped {
            let case = &suite.cases[ci];
            failures.push(format!(
                "{}({:x?}): expected a trap (UDF), got {stdout:?} {stderr:?}",
                case.func.name, case.calls[k].0
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} calls failed:\n{}",
        failures.len(),
        failures.iter().take(60).cloned().collect::<Vec<_>>().join("\n")
    );
    eprintln!("{checked} i64 calls checked under qemu-arm");
}
