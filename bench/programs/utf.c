// expect: 0x673304b2 (checksum of run(); see bench.h)
/* UTF-8 <-> UTF-16 transcoding with validation (overlong forms, surrogates
 * and out-of-range code points rejected), the glue component adapters run
 * on every string crossing.
 * KAT: "a\u20AC\U0001F600" is 61 E2 82 AC F0 9F 98 80 in UTF-8 and
 * 0061 20AC D83D DE00 in UTF-16; an overlong "C0 AF" is rejected. */
#include "bench.h"

/* Returns the number of UTF-16 units written, or -1 on invalid input. */
static int utf8_to_utf16(const u8 *s, int n, u16 *out) {
    int i = 0, o = 0;
    while (i < n) {
        u32 c = s[i];
        int extra;
        u32 min;
        if (c < 0x80) { extra = 0; min = 0; }
        else if ((c & 0xE0) == 0xC0) { c &= 0x1F; extra = 1; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { c &= 0x0F; extra = 2; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { c &= 0x07; extra = 3; min = 0x10000; }
        else return -1;
        if (extra && i + extra >= n) return -1; /* truncated */
        for (int k = 1; k <= extra; k++) {
            u8 b = s[i + k];
            if ((b & 0xC0) != 0x80) return -1;
            c = c << 6 | (b & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return -1;
        i += extra + 1;
        if (c >= 0x10000) {
            c -= 0x10000;
            out[o++] = (u16)(0xD800 | (c >> 10));
            out[o++] = (u16)(0xDC00 | (c & 0x3FF));
        } else {
            out[o++] = (u16)c;
        }
    }
    return o;
}

/* Returns the number of bytes written, or -1 on an unpaired surrogate. */
static int utf16_to_utf8(const u16 *s, int n, u8 *out) {
    int o = 0;
    for (int i = 0; i < n; i++) {
        u32 c = s[i];
        if (c >= 0xD800 && c <= 0xDBFF) {
            if (i + 1 >= n || s[i + 1] < 0xDC00 || s[i + 1] > 0xDFFF) return -1;
            c = 0x10000 + ((c - 0xD800) << 10) + (s[++i] - 0xDC00);
        } else if (c >= 0xDC00 && c <= 0xDFFF) {
            return -1;
        }
        if (c < 0x80) {
            out[o++] = (u8)c;
        } else if (c < 0x800) {
            out[o++] = (u8)(0xC0 | c >> 6);
            out[o++] = (u8)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            out[o++] = (u8)(0xE0 | c >> 12);
            out[o++] = (u8)(0x80 | ((c >> 6) & 0x3F));
            out[o++] = (u8)(0x80 | (c & 0x3F));
        } else {
            out[o++] = (u8)(0xF0 | c >> 18);
            out[o++] = (u8)(0x80 | ((c >> 12) & 0x3F));
            out[o++] = (u8)(0x80 | ((c >> 6) & 0x3F));
            out[o++] = (u8)(0x80 | (c & 0x3F));
        }
    }
    return o;
}

static u8 text[3000], back[3000];
static u16 wide[3000];

i32 BENCH_ENTRY(void) {
    static const u8 k8[8] = {0x61, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80};
    static const u16 k16[4] = {0x0061, 0x20AC, 0xD83D, 0xDE00};
    static const u8 overlong[2] = {0xC0, 0xAF};
    u16 w[8];
    u8 b[16];
    if (utf8_to_utf16(k8, 8, w) != 4 || !bench_memeq(w, k16, 8)) return BENCH_KAT_FAILED;
    if (utf16_to_utf8(k16, 4, b) != 8 || !bench_memeq(b, k8, 8)) return BENCH_KAT_FAILED;
    if (utf8_to_utf16(overlong, 2, w) != -1) return BENCH_KAT_FAILED;
    if (utf8_to_utf16(k8, 3, w) != -1) return BENCH_KAT_FAILED; /* truncated sequence */

    /* Mixed text: mostly ASCII, some 2-, 3- and 4-byte characters. */
    u32 seed = 0x07F8u;
    int n = 0;
    while (n < (int)sizeof text - 4) {
        u32 r = bench_rand(&seed);
        u32 c;
        switch (r & 7) {
        case 0: c = 0x80 + (r >> 8) % 0x780; break;
        case 1: c = 0x800 + (r >> 8) % 0xD000; break;
        case 2: c = 0x10000 + (r >> 8) % 0x100000; break;
        default: c = 0x20 + (r >> 8) % 0x5F; break;
        }
        if (c >= 0xD800 && c <= 0xDFFF) c = 0xE000;
        u16 unit[2];
        int units = 0;
        if (c >= 0x10000) {
            unit[0] = (u16)(0xD800 | ((c - 0x10000) >> 10));
            unit[1] = (u16)(0xDC00 | ((c - 0x10000) & 0x3FF));
            units = 2;
        } else {
            unit[0] = (u16)c;
            units = 1;
        }
        n += utf16_to_utf8(unit, units, text + n);
    }
    u32 h = 0;
    for (int rep = 0; rep < 4; rep++) {
        int units = utf8_to_utf16(text, n, wide);
        if (units < 0) return BENCH_KAT_FAILED;
        int bytes = utf16_to_utf8(wide, units, back);
        if (bytes != n || !bench_memeq(text, back, (usize)n)) return BENCH_KAT_FAILED;
        h = bench_mix(h, (u32)units);
        /* Keep the repetitions distinct: change one ASCII character. */
        for (int i = rep * 97; i < n; i++)
            if (text[i] < 0x80) {
                text[i] = (u8)('x' + rep);
                break;
            }
    }
    for (int i = 0; i < 64; i++) h = bench_mix(h, wide[i * 13]);
    return (i32)h;
}
