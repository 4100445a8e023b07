/*
 * bulkhead benchmark runtime for QEMU mps2 boards: vector table, reset,
 * semihosting output, fault reporting, and the measurement window.
 *
 * Every configuration of a benchmark program links against this file: a
 * module compiled by bulkhead (module name `bench`: it defines `bench_run`
 * and `bench__instantiate`) or the same C compiled by gcc (it defines only
 * `bench_run`, so the weak `bench__instantiate` is null).
 *
 * The instruction counter (bench/icount, a QEMU TCG plugin) counts what
 * executes between the first instruction of bench_window_open and the first
 * instruction of bench_window_close: the call of bench_run and everything it
 * calls, plus a constant few instructions of the markers themselves, which
 * are the same in every configuration.
 *
 * Output (semihosting, one line each):
 *   RESULT <hex>           bench_run returned
 *   INSTANTIATE <hex>      bench__instantiate returned a nonzero trap code
 *   TRAP <hex> PC <hex>    a UDF #code (wasm trap) was executed
 *   FAULT <ipsr> PC <hex> CFSR <hex>   any other fault
 * Exit status: 0 after RESULT, 1 otherwise.
 */
#include <stdint.h>

extern int32_t bench_run(void);
extern int32_t bench__instantiate(void) __attribute__((weak));

/* The embedder ABI's stack limit (compiled prologues check SP against it). */
uint32_t __bulkhead_stack_limit;

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_bottom[], __stack_top[];

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define SCB_CPACR REG32(0xE000ED88u)
#define SCB_SHCSR REG32(0xE000ED24u)
#define SCB_CFSR REG32(0xE000ED28u)

#define SYS_WRITE0 0x04
#define SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUNTIME_ERROR 0x20023u

static uint32_t semihost(uint32_t op, uint32_t arg) {
    register uint32_t r0 __asm__("r0") = op;
    register uint32_t r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void put(const char *s) { semihost(SYS_WRITE0, (uint32_t)s); }

static void put_hex(uint32_t v) {
    char buf[11];
    buf[0] = '0';
    buf[1] = 'x';
    for (int i = 0; i < 8; i++) buf[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15];
    buf[10] = 0;
    put(buf);
}

static void __attribute__((noreturn)) finish(uint32_t reason) {
    semihost(SYS_EXIT, reason);
    for (;;) {
    }
}

/* Measurement markers: never inlined, never merged with each other. */
void __attribute__((noipa, used)) bench_window_open(void) { __asm__ volatile("nop"); }
void __attribute__((noipa, used)) bench_window_close(void) { __asm__ volatile("nop; nop"); }

void __attribute__((noreturn, used)) bench_reset(void) {
    for (uint32_t *s = __data_load, *d = __data_start; d < __data_end;) *d++ = *s++;
    for (uint32_t *d = __bss_start; d < __bss_end;) *d++ = 0;
#if defined(__ARM_FP)
    SCB_CPACR |= 0xFu << 20; /* CP10, CP11 full access */
    __asm__ volatile("dsb; isb");
#endif
    SCB_SHCSR |= (1u << 16) | (1u << 17) | (1u << 18); /* MemManage, BusFault, UsageFault */
    __bulkhead_stack_limit = (uint32_t)__stack_bottom + 256u;

    if (bench__instantiate) {
        int32_t rc = bench__instantiate();
        if (rc != 0) {
            put("INSTANTIATE ");
            put_hex((uint32_t)rc);
            put("\n");
            finish(ADP_STOPPED_RUNTIME_ERROR);
        }
    }
    bench_window_open();
    int32_t result = bench_run();
    bench_window_close();
    put("RESULT ");
    put_hex((uint32_t)result);
    put("\n");
    finish(ADP_STOPPED_APPLICATION_EXIT);
}

void __attribute__((noreturn, used)) bench_fault_report(uint32_t *frame, uint32_t ipsr) {
    uint32_t pc = frame[6];
    uint16_t insn = *(const uint16_t *)(pc & ~1u);
    if ((insn & 0xFF00u) == 0xDE00u) {
        put("TRAP ");
        put_hex(insn & 0xFFu);
    } else {
        put("FAULT ");
        put_hex(ipsr);
        put(" CFSR ");
        put_hex(SCB_CFSR);
    }
    put(" PC ");
    put_hex(pc);
    put("\n");
    finish(ADP_STOPPED_RUNTIME_ERROR);
}

/* Exception entry: pass the stacked frame (MSP or PSP per EXC_RETURN). */
void __attribute__((naked)) bench_fault(void) {
    __asm__ volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "mrs r1, ipsr\n"
        "b bench_fault_report\n");
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))__stack_top, bench_reset, bench_fault, bench_fault, bench_fault, bench_fault,
    bench_fault, 0, 0, 0, 0, bench_fault, bench_fault, 0, bench_fault, bench_fault,
};
