// expect: 0xd932b0e4 (checksum of run(); see bench.h)
/* SHA-256 (FIPS 180-4) as used for firmware image verification.
 * KAT: SHA-256("abc") = ba7816bf 8f01cfea 414140de 5dae2223
 *                       b00361a3 96177a9c b410ff61 f20015ad. */
#include "bench.h"

typedef struct {
    u32 h[8];
    u8 block[64];
    u32 used;
    u64 length;
} sha256_ctx;

static const u32 K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static u32 ror(u32 x, int n) { return (x >> n) | (x << (32 - n)); }

static void compress(u32 h[8], const u8 *p) {
    u32 w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (u32)p[4 * i] << 24 | (u32)p[4 * i + 1] << 16 | (u32)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        u32 s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        u32 s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    u32 a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        u32 t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        u32 t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

static void sha256_init(sha256_ctx *c) {
    static const u32 iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                              0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    for (int i = 0; i < 8; i++) c->h[i] = iv[i];
    c->used = 0;
    c->length = 0;
}

static void sha256_update(sha256_ctx *c, const u8 *p, usize n) {
    c->length += n;
    while (n--) {
        c->block[c->used++] = *p++;
        if (c->used == 64) {
            compress(c->h, c->block);
            c->used = 0;
        }
    }
}

static void sha256_final(sha256_ctx *c, u8 out[32]) {
    u64 bits = c->length * 8;
    u8 pad = 0x80;
    sha256_update(c, &pad, 1);
    u8 zero = 0;
    while (c->used != 56) sha256_update(c, &zero, 1);
    for (int i = 7; i >= 0; i--) {
        u8 b = (u8)(bits >> (8 * i));
        sha256_update(c, &b, 1);
    }
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (u8)(c->h[i] >> 24);
        out[4 * i + 1] = (u8)(c->h[i] >> 16);
        out[4 * i + 2] = (u8)(c->h[i] >> 8);
        out[4 * i + 3] = (u8)c->h[i];
    }
}

static u8 image[2048];

i32 BENCH_ENTRY(void) {
    static const u8 abc[3] = {'a', 'b', 'c'};
    static const u8 abc_digest[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    sha256_ctx c;
    u8 digest[32];
    sha256_init(&c);
    sha256_update(&c, abc, 3);
    sha256_final(&c, digest);
    if (!bench_memeq(digest, abc_digest, 32)) return BENCH_KAT_FAILED;

    u32 seed = 0xC0FFEEu;
    for (usize i = 0; i < sizeof image; i++) image[i] = (u8)bench_rand(&seed);
    sha256_init(&c);
    sha256_update(&c, image, sizeof image);
    sha256_final(&c, digest);
    u32 h = 0;
    for (int i = 0; i < 32; i += 4)
        h = bench_mix(h, (u32)digest[i] | (u32)digest[i + 1] << 8 | (u32)digest[i + 2] << 16 | (u32)digest[i + 3] << 24);
    return (i32)h;
}
