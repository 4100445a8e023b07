/*
 * bulkhead test runtime: vector table, reset, fault entry, setjmp/longjmp and
 * the generic AAPCS call trampoline.
 *
 * The harness thread runs in privileged Thread mode on the PSP; exceptions
 * run on the MSP. A guest that overflows its stack therefore faults while
 * stacking onto the PSP, and the fault handler still has a good stack to
 * report from and to build a fresh recovery frame (see harness.c).
 *
 * Compiled once per board by the testkit (see src/qemu.rs); __ARM_FP tells
 * whether the board has an FPU (then the call trampoline passes VFP
 * arguments and returns d0, and setjmp saves the callee-saved d8-d15).
 */
    .syntax unified
    .thumb

    .section .vectors, "a", %progbits
    .align 2
    .global bh_vectors
bh_vectors:
    .word __msp_top
    .word bh_reset
    .word bh_fault_entry      /* NMI */
    .word bh_fault_entry      /* HardFault */
    .word bh_fault_entry      /* MemManage */
    .word bh_fault_entry      /* BusFault */
    .word bh_fault_entry      /* UsageFault */
    .word bh_fault_entry      /* SecureFault (ARMv8-M) */
    .word 0, 0, 0
    .word bh_fault_entry      /* SVCall */
    .word bh_fault_entry      /* DebugMonitor */
    .word 0
    .word bh_fault_entry      /* PendSV */
    .word bh_fault_entry      /* SysTick */
    .rept 96
    .word bh_fault_entry      /* external interrupts: none are enabled */
    .endr

    .text

    .global bh_reset
    .type bh_reset, %function
    .thumb_func
bh_reset:
    ldr r0, =__msp_top
    msr msp, r0
    ldr r0, =__psp_top
    msr psp, r0
    movs r0, #2               /* CONTROL.SPSEL = 1: Thread mode uses the PSP */
    msr control, r0
    isb
    bl bh_main
1:  b 1b
    .size bh_reset, . - bh_reset

/* Every fault and unexpected exception. Passes the exception frame (on the
 * stack EXC_RETURN bit 2 names), EXC_RETURN and IPSR to bh_fault, which
 * returns the EXC_RETURN value to resume with. */
    .global bh_fault_entry
    .type bh_fault_entry, %function
    .thumb_func
bh_fault_entry:
    tst lr, #4
    ite eq
    mrseq r0, msp
    mrsne r0, psp
    mov r1, lr
    mrs r2, ipsr
    bl bh_fault
    bx r0
    .size bh_fault_entry, . - bh_fault_entry

/* int bh_setjmp(uint32_t buf[BH_JMP_WORDS]) */
    .global bh_setjmp
    .type bh_setjmp, %function
    .thumb_func
bh_setjmp:
    stmia r0!, {r4-r11}
    mov r1, sp
    str r1, [r0], #4
    str lr, [r0], #4
#ifdef __ARM_FP
    vstmia r0!, {d8-d15}
#endif
    movs r0, #0
    bx lr
    .size bh_setjmp, . - bh_setjmp

/* void bh_longjmp(uint32_t buf[BH_JMP_WORDS], int value) -- value != 0 */
    .global bh_longjmp
    .type bh_longjmp, %function
    .thumb_func
bh_longjmp:
    ldmia r0!, {r4-r11}
    ldr r2, [r0], #4
    mov sp, r2
    ldr lr, [r0], #4
#ifdef __ARM_FP
    vldmia r0!, {d8-d15}
#endif
    movs r0, r1
    it eq
    moveq r0, #1
    bx lr
    .size bh_longjmp, . - bh_longjmp

/*
 * void bh_invoke(const struct bh_call *call, uint32_t out[4])
 *
 * struct bh_call (see harness.c; word offsets):
 *   0 kind, 1 target, 2..5 core r0-r3, 6 nstack, 7 stack words pointer,
 *   8..23 VFP s0-s15, 24 module index.
 * Calls target with r0-r3 (and s0-s15 on FPU boards) loaded and nstack words
 * at the bottom of an 8-byte aligned stack; stores r0, r1 (and s0, s1 =
 * d0) into out.
 */
    .global bh_invoke
    .type bh_invoke, %function
    .thumb_func
bh_invoke:
    push {r4-r8, lr}
    mov r4, r0
    mov r5, r1
    mov r6, sp
    ldr r7, [r4, #24]         /* nstack */
    mov r0, sp
    sub r0, r0, r7, lsl #2
    bic r0, r0, #7
    mov sp, r0
    ldr r1, [r4, #28]         /* stack words */
    movs r2, #0
1:  cmp r2, r7
    bhs 2f
    ldr r3, [r1, r2, lsl #2]
    str r3, [r0, r2, lsl #2]
    adds r2, r2, #1
    b 1b
2:
#ifdef __ARM_FP
    add r0, r4, #32
    vldmia r0, {s0-s15}
#endif
    ldr r12, [r4, #4]
    orr r12, r12, #1          /* Thumb state whatever the symbol type says */
    add r0, r4, #8
    ldmia r0, {r0-r3}
    blx r12
    mov sp, r6
    str r0, [r5]
    str r1, [r5, #4]
#ifdef __ARM_FP
    vstr s0, [r5, #8]
    vstr s1, [r5, #12]
#endif
    pop {r4-r8, pc}
    .size bh_invoke, . - bh_invoke

    .ltorg
