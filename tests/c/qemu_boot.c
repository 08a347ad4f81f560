/* Boots the unit test on QEMU's mps2-an386 (Cortex-M4F) with newlib's semihosting C
 * library (--specs=rdimon.specs): printf and the exit status reach the host through
 * QEMU's -semihosting. newlib's start-up code (_start: stack, .bss, then main) has no
 * vector table, which a Cortex-M reads at reset; this file provides one, linked at address
 * 0 with -Wl,--section-start=.vectors=0. */
#include <stdint.h>

extern void _start(void);

static void reset(void)
{
    /* The FPU is off at reset and the test is built for it (-mfloat-abi=hard): grant
     * CP10/CP11 full access in CPACR before any floating-point instruction. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    _start();
}

/* Initial stack pointer (the top of the 4 MB SRAM at 0x20000000; _start then moves the
 * stack where semihosting's SYS_HEAPINFO says) and reset handler. */
__attribute__((section(".vectors"), used)) static void (*const vectors[2])(void) = {
    (void (*)(void))0x20400000u,
    reset,
};
