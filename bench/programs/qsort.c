// expect: 0xd58d1368 (checksum of run(); see bench.h)
/* Quicksort (median-of-three, insertion sort below 12 elements, recursion
 * on the smaller part) of 1024 int32 keys with a permutation check.
 * KAT: a fixed 8-element array sorts to its known order. */
#include "bench.h"

#define COUNT 1024

static i32 keys[COUNT];

static void insertion_sort(i32 *v, int n) {
    for (int i = 1; i < n; i++) {
        i32 x = v[i];
        int j = i - 1;
        while (j >= 0 && v[j] > x) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
}

static void swap(i32 *a, i32 *b) {
    i32 t = *a;
    *a = *b;
    *b = t;
}

static void quicksort(i32 *v, int n) {
    while (n > 12) {
        int mid = n / 2;
        if (v[mid] < v[0]) swap(&v[mid], &v[0]);
        if (v[n - 1] < v[0]) swap(&v[n - 1], &v[0]);
        if (v[n - 1] < v[mid]) swap(&v[n - 1], &v[mid]);
        i32 pivot = v[mid];
        int i = 0, j = n - 1;
        for (;;) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i >= j) break;
            swap(&v[i], &v[j]);
            i++;
            j--;
        }
        int left = j + 1;
        if (left < n - left) {
            quicksort(v, left);
            v += left;
            n -= left;
        } else {
            quicksort(v + left, n - left);
            n = left;
        }
    }
    insertion_sort(v, n);
}

i32 BENCH_ENTRY(void) {
    i32 small[8] = {5, -3, 9, 0, 9, -7, 2, 1};
    static const i32 sorted[8] = {-7, -3, 0, 1, 2, 5, 9, 9};
    quicksort(small, 8);
    for (int i = 0; i < 8; i++)
        if (small[i] != sorted[i]) return BENCH_KAT_FAILED;

    u32 seed = 0x50F750F7u;
    u32 sum_before = 0, xor_before = 0;
    for (int i = 0; i < COUNT; i++) {
        keys[i] = (i32)(bench_rand(&seed) % 100000) - 50000;
        sum_before += (u32)keys[i];
        xor_before ^= (u32)keys[i] * 2654435761u;
    }
    quicksort(keys, COUNT);
    u32 sum_after = 0, xor_after = 0, h = 0;
    for (int i = 0; i < COUNT; i++) {
        if (i && keys[i - 1] > keys[i]) return BENCH_KAT_FAILED;
        sum_after += (u32)keys[i];
        xor_after ^= (u32)keys[i] * 2654435761u;
        h = bench_mix(h, (u32)keys[i]);
    }
    if (sum_after != sum_before || xor_after != xor_before) return BENCH_KAT_FAILED;
    return (i32)h;
}
