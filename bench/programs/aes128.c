// expect: 0x8f6084ee (checksum of run(); see bench.h)
/* AES-128 encryption (FIPS-197), byte-oriented with an S-box computed at
 * start-up, in CBC mode as a secure-boot or link-layer cipher would use it.
 * KAT: FIPS-197 appendix C.1, key 000102..0f, plaintext 00112233..ff,
 * ciphertext 69c4e0d86a7b0430d8cdb78070b4c55a. */
#include "bench.h"

static u8 sbox[256];
static u8 round_keys[176];

static u8 xtime(u8 x) { return (u8)((x << 1) ^ ((x & 0x80) ? 0x1B : 0)); }

static u8 rotl8(u8 x, int n) { return (u8)((x << n) | (x >> (8 - n))); }

static void make_sbox(void) {
    /* Walk GF(2^8)* with the generator 3: p runs through 3^i while q runs
     * through 3^-i, so q = p^-1; then apply the affine map to the inverse. */
    u8 p = 1, q = 1;
    do {
        p = (u8)(p ^ xtime(p));
        q ^= (u8)(q << 1);
        q ^= (u8)(q << 2);
        q ^= (u8)(q << 4);
        if (q & 0x80) q ^= 0x09;
        sbox[p] = (u8)(q ^ rotl8(q, 1) ^ rotl8(q, 2) ^ rotl8(q, 3) ^ rotl8(q, 4) ^ 0x63);
    } while (p != 1);
    sbox[0] = 0x63;
}

static void expand_key(const u8 key[16]) {
    u8 rcon = 1;
    for (int i = 0; i < 16; i++) round_keys[i] = key[i];
    for (int i = 16; i < 176; i += 4) {
        u8 t0 = round_keys[i - 4], t1 = round_keys[i - 3], t2 = round_keys[i - 2], t3 = round_keys[i - 1];
        if (i % 16 == 0) {
            u8 tmp = t0;
            t0 = sbox[t1] ^ rcon;
            t1 = sbox[t2];
            t2 = sbox[t3];
            t3 = sbox[tmp];
            rcon = xtime(rcon);
        }
        round_keys[i] = round_keys[i - 16] ^ t0;
        round_keys[i + 1] = round_keys[i - 15] ^ t1;
        round_keys[i + 2] = round_keys[i - 14] ^ t2;
        round_keys[i + 3] = round_keys[i - 13] ^ t3;
    }
}

static void encrypt_block(u8 s[16]) {
    for (int i = 0; i < 16; i++) s[i] ^= round_keys[i];
    for (int round = 1; round <= 10; round++) {
        u8 t[16];
        /* SubBytes + ShiftRows: column c, row r comes from column c + r. */
        for (int c = 0; c < 4; c++)
            for (int r = 0; r < 4; r++) t[4 * c + r] = sbox[s[4 * ((c + r) & 3) + r]];
        if (round != 10) {
            for (int c = 0; c < 4; c++) {
                u8 a0 = t[4 * c], a1 = t[4 * c + 1], a2 = t[4 * c + 2], a3 = t[4 * c + 3];
                u8 all = a0 ^ a1 ^ a2 ^ a3;
                t[4 * c] = a0 ^ all ^ xtime(a0 ^ a1);
                t[4 * c + 1] = a1 ^ all ^ xtime(a1 ^ a2);
                t[4 * c + 2] = a2 ^ all ^ xtime(a2 ^ a3);
                t[4 * c + 3] = a3 ^ all ^ xtime(a3 ^ a0);
            }
        }
        for (int i = 0; i < 16; i++) s[i] = t[i] ^ round_keys[16 * round + i];
    }
}

static u8 buffer[1024];

i32 BENCH_ENTRY(void) {
    make_sbox();
    u8 key[16], block[16];
    static const u8 expected[16] = {0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30,
                                    0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a};
    for (int i = 0; i < 16; i++) {
        key[i] = (u8)i;
        block[i] = (u8)(i * 0x11);
    }
    expand_key(key);
    encrypt_block(block);
    if (!bench_memeq(block, expected, 16)) return BENCH_KAT_FAILED;

    u32 seed = 0xAE5128u;
    for (int i = 0; i < 16; i++) key[i] = (u8)bench_rand(&seed);
    for (usize i = 0; i < sizeof buffer; i++) buffer[i] = (u8)bench_rand(&seed);
    expand_key(key);
    u8 iv[16] = {0};
    for (usize off = 0; off < sizeof buffer; off += 16) {
        for (int i = 0; i < 16; i++) buffer[off + i] ^= iv[i];
        encrypt_block(buffer + off);
        for (int i = 0; i < 16; i++) iv[i] = buffer[off + i];
    }
    u32 h = 0;
    for (usize i = 0; i < sizeof buffer; i += 4)
        h = bench_mix(h, (u32)buffer[i] | (u32)buffer[i + 1] << 8 | (u32)buffer[i + 2] << 16 | (u32)buffer[i + 3] << 24);
    return (i32)h;
}
