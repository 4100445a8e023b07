// expect: 0x12ca8344 (checksum of run(); see bench.h)
/* Base64 (RFC 4648) encoding and strict decoding (padding checked, invalid
 * characters rejected), as used to carry binary blobs in text protocols.
 * KAT: RFC 4648 section 10: "foobar" <-> "Zm9vYmFy", "fo" <-> "Zm8=". */
#include "bench.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static i8 reverse[256];

static usize encode(const u8 *in, usize n, u8 *out) {
    usize o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        u32 v = (u32)in[i] << 16 | (u32)in[i + 1] << 8 | in[i + 2];
        out[o++] = (u8)alphabet[v >> 18];
        out[o++] = (u8)alphabet[(v >> 12) & 63];
        out[o++] = (u8)alphabet[(v >> 6) & 63];
        out[o++] = (u8)alphabet[v & 63];
    }
    if (n - i == 1) {
        u32 v = (u32)in[i] << 16;
        out[o++] = (u8)alphabet[v >> 18];
        out[o++] = (u8)alphabet[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        u32 v = (u32)in[i] << 16 | (u32)in[i + 1] << 8;
        out[o++] = (u8)alphabet[v >> 18];
        out[o++] = (u8)alphabet[(v >> 12) & 63];
        out[o++] = (u8)alphabet[(v >> 6) & 63];
        out[o++] = '=';
    }
    return o;
}

/* Returns the decoded length, or -1 if the input is not canonical base64. */
static int decode(const u8 *in, usize n, u8 *out) {
    if (n % 4) return -1;
    int o = 0;
    for (usize i = 0; i < n; i += 4) {
        int pad = 0;
        u32 v = 0;
        for (int k = 0; k < 4; k++) {
            u8 c = in[i + k];
            i32 d;
            if (c == '=' && i + 4 == n && k >= 2) {
                pad++;
                d = 0;
            } else {
                d = reverse[c];
                if (d < 0 || pad) return -1;
            }
            v = v << 6 | (u32)d;
        }
        out[o++] = (u8)(v >> 16);
        if (pad < 2) out[o++] = (u8)(v >> 8);
        if (pad < 1) out[o++] = (u8)v;
    }
    return o;
}

static u8 blob[1500], text[2004], round_trip[1500];

i32 BENCH_ENTRY(void) {
    for (int i = 0; i < 256; i++) reverse[i] = -1;
    for (int i = 0; i < 64; i++) reverse[(u8)alphabet[i]] = (i8)i;

    u8 t[16], d[16];
    if (encode((const u8 *)"foobar", 6, t) != 8 || !bench_memeq(t, "Zm9vYmFy", 8)) return BENCH_KAT_FAILED;
    if (encode((const u8 *)"fo", 2, t) != 4 || !bench_memeq(t, "Zm8=", 4)) return BENCH_KAT_FAILED;
    if (decode((const u8 *)"Zm9vYmFy", 8, d) != 6 || !bench_memeq(d, "foobar", 6)) return BENCH_KAT_FAILED;
    if (decode((const u8 *)"Zm8=", 4, d) != 2 || !bench_memeq(d, "fo", 2)) return BENCH_KAT_FAILED;
    if (decode((const u8 *)"Zm=8", 4, d) != -1 || decode((const u8 *)"Zm9*", 4, d) != -1) return BENCH_KAT_FAILED;

    u32 seed = 0xB64B64u, h = 0;
    for (usize i = 0; i < sizeof blob; i++) blob[i] = (u8)bench_rand(&seed);
    for (usize len = sizeof blob - 2; len <= sizeof blob; len++) {
        usize tl = encode(blob, len, text);
        int dl = decode(text, tl, round_trip);
        if (dl != (int)len || !bench_memeq(blob, round_trip, len)) return BENCH_KAT_FAILED;
        for (usize i = 0; i < tl; i += 16) h = bench_mix(h, text[i]);
        h = bench_mix(h, (u32)tl);
    }
    return (i32)h;
}
