// expect: 0x749befd4 (checksum of run(); see bench.h)
/* FIR filter, 32 taps, Q15 samples and coefficients with a 32-bit
 * accumulator and saturation to int16, over a circular delay line: the
 * shape of audio and sensor front ends.
 * KAT: the impulse response of the filter is its coefficient vector. */
#include "bench.h"

#define TAPS 32
#define SAMPLES 1024

static i16 coeffs[TAPS];
static i16 delay[TAPS];
static i16 input[SAMPLES], output[SAMPLES];

static i16 sat16(i32 v) {
    if (v > 32767) return 32767;
    if (v < -32768) return -32768;
    return (i16)v;
}

static void fir(const i16 *in, i16 *out, int n) {
    int pos = 0;
    for (int i = 0; i < TAPS; i++) delay[i] = 0;
    for (int s = 0; s < n; s++) {
        delay[pos] = in[s];
        i32 acc = 1 << 14; /* round to nearest */
        int idx = pos;
        for (int t = 0; t < TAPS; t++) {
            acc += (i32)coeffs[t] * delay[idx];
            idx = idx == 0 ? TAPS - 1 : idx - 1;
        }
        out[s] = sat16(acc >> 15);
        pos = pos == TAPS - 1 ? 0 : pos + 1;
    }
}

i32 BENCH_ENTRY(void) {
    /* A windowed low-pass shape, symmetric, in Q15. */
    for (int i = 0; i < TAPS / 2; i++) {
        i16 v = (i16)(300 + i * i * 20);
        coeffs[i] = v;
        coeffs[TAPS - 1 - i] = v;
    }
    static i16 impulse[TAPS + 4], response[TAPS + 4];
    for (int i = 0; i < TAPS + 4; i++) impulse[i] = 0;
    impulse[0] = 32767; /* ~1.0: the response is coeffs * (32767/32768), rounded */
    fir(impulse, response, TAPS + 4);
    for (int i = 0; i < TAPS; i++)
        if (response[i] != coeffs[i]) return BENCH_KAT_FAILED;
    for (int i = TAPS; i < TAPS + 4; i++)
        if (response[i] != 0) return BENCH_KAT_FAILED;

    u32 seed = 0xF12F12u;
    i32 phase = 0;
    for (int i = 0; i < SAMPLES; i++) {
        /* A triangle wave plus noise. */
        phase = (phase + 1237) & 0xFFFF;
        i32 tri = phase < 0x8000 ? phase - 0x4000 : 0xC000 - phase;
        input[i] = sat16(tri + (i32)(bench_rand(&seed) & 0x7FF) - 0x400);
    }
    fir(input, output, SAMPLES);
    u32 h = 0;
    for (int i = 0; i < SAMPLES; i++) h = bench_mix(h, (u32)(u16)output[i]);
    return (i32)h;
}
