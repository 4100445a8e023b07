/*
 * Shared by every benchmark program (bench/programs/<name>.c).
 *
 * A program defines `int32_t BENCH_ENTRY(void)`: it first runs known-answer
 * tests (published test vectors or hand-checked values), returns
 * BENCH_KAT_FAILED if one fails, and otherwise runs its workload on inputs
 * it generates itself and returns a checksum. The expected checksum is
 * recorded in the program's `expect:` comment line and checked by the
 * driver against every configuration and against wasmi.
 *
 * The same source is compiled to wasm32 (clang, export `run`) and natively
 * (arm-none-eabi-gcc, symbol `bench_run`, which the bench runtime calls):
 * no libc, no floats, no allocation.
 */
#ifndef BENCH_H
#define BENCH_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char i8;
typedef short i16;
typedef int i32;
typedef long long i64;
typedef unsigned long usize;

#ifdef BENCH_NATIVE
#define BENCH_ENTRY bench_run
#else
#define BENCH_ENTRY run
#endif

#define BENCH_KAT_FAILED ((i32)0xBAD0BAD0)

/* Deterministic input: xorshift32. */
static inline u32 bench_rand(u32 *state) {
    u32 x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

/* Order-sensitive checksum step. */
static inline u32 bench_mix(u32 h, u32 v) {
    h ^= v;
    h *= 0x01000193u;
    return h ^ (h >> 15);
}

static inline int bench_memeq(const void *a, const void *b, usize n) {
    const u8 *x = (const u8 *)a, *y = (const u8 *)b;
    for (usize i = 0; i < n; i++)
        if (x[i] != y[i]) return 0;
    return 1;
}

#endif
