// expect: 0x1ccff021 (checksum of run(); see bench.h)
/* Bit manipulation as drivers and codecs do it: population count, bit
 * reversal, count leading/trailing zeros, Morton (Z-order) interleaving,
 * parity, a bitmap allocator and Gray codes, all in portable C (the
 * compilers may or may not find the single instructions).
 * KAT: popcount(0xF0F00001) = 9, reverse(1) = 0x80000000, clz(0x00010000)
 * = 15, ctz(0x80) = 7, morton(3, 5) = 0x27, parity(0x7) = 1. */
#include "bench.h"

static u32 popcount(u32 x) {
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0F0F0F0Fu;
    return (x * 0x01010101u) >> 24;
}

static u32 reverse_bits(u32 x) {
    x = (x >> 1 & 0x55555555u) | (x & 0x55555555u) << 1;
    x = (x >> 2 & 0x33333333u) | (x & 0x33333333u) << 2;
    x = (x >> 4 & 0x0F0F0F0Fu) | (x & 0x0F0F0F0Fu) << 4;
    x = (x >> 8 & 0x00FF00FFu) | (x & 0x00FF00FFu) << 8;
    return x >> 16 | x << 16;
}

static u32 clz(u32 x) {
    if (!x) return 32;
    u32 n = 0;
    if (!(x & 0xFFFF0000u)) { n += 16; x <<= 16; }
    if (!(x & 0xFF000000u)) { n += 8; x <<= 8; }
    if (!(x & 0xF0000000u)) { n += 4; x <<= 4; }
    if (!(x & 0xC0000000u)) { n += 2; x <<= 2; }
    if (!(x & 0x80000000u)) { n += 1; }
    return n;
}

static u32 ctz(u32 x) { return x ? 31 - clz(x & (0u - x)) : 32; }

static u32 spread(u32 x) {
    x &= 0xFFFF;
    x = (x | x << 8) & 0x00FF00FFu;
    x = (x | x << 4) & 0x0F0F0F0Fu;
    x = (x | x << 2) & 0x33333333u;
    x = (x | x << 1) & 0x55555555u;
    return x;
}

static u32 morton(u32 x, u32 y) { return spread(x) | spread(y) << 1; }

static u32 parity(u32 x) {
    x ^= x >> 16;
    x ^= x >> 8;
    x ^= x >> 4;
    return (0x6996u >> (x & 15)) & 1;
}

/* Bitmap allocator over 1024 blocks: first fit of `count` contiguous free
 * blocks; returns the first block or -1. */
static u32 bitmap[32];

static int alloc_blocks(int count) {
    int run = 0;
    for (int b = 0; b < 1024; b++) {
        u32 word = bitmap[b >> 5];
        if (word == 0xFFFFFFFFu) { /* full word: skip it */
            run = 0;
            b |= 31;
            continue;
        }
        if (word & (1u << (b & 31))) {
            run = 0;
        } else if (++run == count) {
            int first = b - count + 1;
            for (int k = first; k <= b; k++) bitmap[k >> 5] |= 1u << (k & 31);
            return first;
        }
    }
    return -1;
}

static void free_blocks(int first, int count) {
    for (int k = first; k < first + count; k++) bitmap[k >> 5] &= ~(1u << (k & 31));
}

i32 BENCH_ENTRY(void) {
    if (popcount(0xF0F00001u) != 9 || reverse_bits(1) != 0x80000000u || clz(0x00010000u) != 15 || ctz(0x80) != 7 ||
        morton(3, 5) != 0x27 || parity(7) != 1 || parity(0x80000001u) != 0)
        return BENCH_KAT_FAILED;

    u32 seed = 0xB17B17u, h = 0;
    for (int i = 0; i < 2000; i++) {
        u32 x = bench_rand(&seed);
        u32 gray = x ^ (x >> 1);
        h = bench_mix(h, popcount(x) | clz(x >> (i & 31)) << 6 | ctz(x) << 12 | parity(gray) << 18);
        h = bench_mix(h, reverse_bits(x) ^ morton(x, x >> 16));
    }
    int live_first[16], live_count[16];
    for (int i = 0; i < 16; i++) live_count[i] = 0;
    for (int i = 0; i < 32; i++) bitmap[i] = 0;
    for (int step = 0; step < 600; step++) {
        int slot = (int)(bench_rand(&seed) & 15);
        if (live_count[slot]) {
            free_blocks(live_first[slot], live_count[slot]);
            live_count[slot] = 0;
        } else {
            int count = 1 + (int)(bench_rand(&seed) % 90);
            int first = alloc_blocks(count);
            if (first >= 0) {
                live_first[slot] = first;
                live_count[slot] = count;
            }
            h = bench_mix(h, (u32)first);
        }
    }
    return (i32)h;
}
