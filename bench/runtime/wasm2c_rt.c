/*
 * A bare-metal runtime for wabt's wasm2c output (the `wasm2c` benchmark
 * configuration): what the generated code calls, with memories in static
 * storage instead of the host allocator and traps as `UDF` instructions
 * (reported by bench_rt.c's fault handler like bulkhead's traps).
 *
 * Compiled with the generated module by arm-none-eabi-gcc. wasm2c's 32-bit
 * targets have no guard-page mode, so every access is range-checked in C
 * (wasm-rt.h: WASM_RT_MEMCHECK_SIGNAL_HANDLER is 0 on 32-bit), and calls
 * count their depth against WASM_RT_MAX_CALL_STACK_DEPTH.
 *
 * Also the glue bench_rt.c expects: `bench__instantiate` and `bench_run`
 * around the module compiled with `wasm2c -n bench` into "module.h".
 */
#include <stdarg.h>
#include <stdint.h>

#include "module.h"

/* One program has one memory of at most 128 KiB (see bench/programs). */
#define BENCH_W2C_MEMORY_BYTES (128u * 1024u)
static uint8_t memory_storage[BENCH_W2C_MEMORY_BYTES] __attribute__((aligned(8)));
static int memory_taken;

uint32_t wasm_rt_call_stack_depth;
static int initialized;

void wasm_rt_init(void) { initialized = 1; }
bool wasm_rt_is_initialized(void) { return initialized; }
void wasm_rt_free(void) { initialized = 0; }

void wasm_rt_trap(wasm_rt_trap_t trap) {
    (void)trap;
    __asm__ volatile("udf #1"); /* reported as TRAP by bench_rt.c */
    for (;;) {
    }
}

/* Signatures are only compared for call_indirect; the benchmark programs
 * have no tables, so one shared index is enough. */
uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...) {
    (void)params;
    (void)results;
    return 0;
}

void wasm_rt_allocate_memory(wasm_rt_memory_t *memory, uint32_t initial_pages, uint32_t max_pages) {
    uint32_t bytes = initial_pages * 65536u;
    if (memory_taken || bytes > BENCH_W2C_MEMORY_BYTES) wasm_rt_trap(WASM_RT_TRAP_OOB);
    memory_taken = 1;
    for (uint32_t i = 0; i < bytes; i++) memory_storage[i] = 0;
    memory->data = memory_storage;
    memory->pages = initial_pages;
    memory->max_pages = max_pages;
    memory->size = bytes;
}

uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *memory, uint32_t pages) {
    uint32_t old = memory->pages;
    uint32_t new_pages = old + pages;
    if (new_pages < old || new_pages > memory->max_pages || new_pages * 65536ull > BENCH_W2C_MEMORY_BYTES)
        return 0xFFFFFFFFu;
    for (uint32_t i = memory->size; i < new_pages * 65536u; i++) memory_storage[i] = 0;
    memory->pages = new_pages;
    memory->size = new_pages * 65536u;
    return old;
}

void wasm_rt_free_memory(wasm_rt_memory_t *memory) {
    (void)memory;
    memory_taken = 0;
}

void __assert_func(const char *file, int line, const char *func, const char *expr) {
    (void)file;
    (void)line;
    (void)func;
    (void)expr;
    wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE);
}

static Z_bench_instance_t instance;

int32_t bench__instantiate(void) {
    wasm_rt_init();
    Z_bench_init_module();
    Z_bench_instantiate(&instance);
    return 0;
}

int32_t bench_run(void) { return (int32_t)Z_benchZ_run(&instance); }
