/*
 * The `spectest` module the WebAssembly spec tests import, under the
 * embedder ABI's import names (`spectest_<field>`). Packed as an archive, so
 * it is linked only into images whose modules import from it.
 */
#include <stdint.h>

void spectest_print(void) {}
void spectest_print_i32(int32_t x) { (void)x; }
void spectest_print_i64(int64_t x) { (void)x; }
void spectest_print_f32(float x) { (void)x; }
void spectest_print_f64(double x) { (void)x; }
void spectest_print_i32_f32(int32_t x, float y) { (void)x; (void)y; }
void spectest_print_f64_f64(double x, double y) { (void)x; (void)y; }

int32_t spectest_global_i32 = 666;
int64_t spectest_global_i64 = 666;
float spectest_global_f32 = 666.6f;
double spectest_global_f64 = 666.6;

/* (memory 1 2): one page now, reserved for two. The image's RAM is zero at
 * boot and nothing else writes it before the modules run. */
uint8_t spectest_memory[131072] __attribute__((section(".bulkhead.mem.spectest"), aligned(131072)));
uint32_t spectest_memory__size = 65536; /* import size symbol: `<mod>_<field>__size` */
/* Reservation (2 pages), for importers that bound memory.grow by it. */
const uint32_t spectest_memory__max = 131072;

/* (table 10 20 funcref): ten null entries now, reserved for twenty (the
 * embedder ABI's symbols of an imported table: entries, `__size` in
 * entries, `__max` the reservation `table.grow` may reach). */
uint32_t spectest_table[20];
uint32_t spectest_table__size = 10;
const uint32_t spectest_table__max = 20;
