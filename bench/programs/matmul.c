// expect: 0x56c8fb52 (checksum of run(); see bench.h)
/* Integer matrix multiply (C = A x B, 24x24, int32), the inner loop of
 * fixed-point inference and sensor-fusion kernels.
 * KAT: [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]. */
#include "bench.h"

#define N 24

static i32 a[N][N], b[N][N], c[N][N];

static void matmul(int n, const i32 *x, const i32 *y, i32 *z, int stride) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            i32 sum = 0;
            for (int k = 0; k < n; k++) sum += x[i * stride + k] * y[k * stride + j];
            z[i * stride + j] = sum;
        }
}

i32 BENCH_ENTRY(void) {
    static const i32 ka[4] = {1, 2, 3, 4}, kb[4] = {5, 6, 7, 8}, kc[4] = {19, 22, 43, 50};
    i32 kz[4];
    matmul(2, ka, kb, kz, 2);
    for (int i = 0; i < 4; i++)
        if (kz[i] != kc[i]) return BENCH_KAT_FAILED;

    u32 seed = 0x5EED1234u;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            a[i][j] = (i32)(bench_rand(&seed) % 2001) - 1000;
            b[i][j] = (i32)(bench_rand(&seed) % 2001) - 1000;
        }
    matmul(N, &a[0][0], &b[0][0], &c[0][0], N);
    u32 h = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) h = bench_mix(h, (u32)c[i][j]);
    return (i32)h;
}
