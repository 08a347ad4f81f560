/* ARM CMSDK APB UART (MPS2 boards): DATA, STATE (bit 0 TX full, bit 1 RX full), CTRL,
 * INTSTATUS/INTCLEAR. */
#define UART_DATA TF_REG(TF_UART_BASE + 0x00u)
#define UART_STATE TF_REG(TF_UART_BASE + 0x04u)
#define UART_CTRL TF_REG(TF_UART_BASE + 0x08u)
#define UART_INTCLEAR TF_REG(TF_UART_BASE + 0x0Cu)
#define UART_BAUDDIV TF_REG(TF_UART_BASE + 0x10u)
#define NVIC_ISER0 TF_REG(0xE000E100u)

void tf_uart_init(void)
{
    UART_BAUDDIV = TF_CLOCK_HZ / TF_UART_BAUD;
#ifdef TF_UART_RX_IRQ
    UART_CTRL = 3u | (1u << 3);  /* TX and RX enable, RX interrupt */
    NVIC_ISER0 = 1u << TF_UART_RX_IRQ;
#else
    UART_CTRL = 3u;              /* TX and RX enable */
#endif
}

#ifdef TF_UART_RX_IRQ
/* The interrupt only wakes the core from WFI; tf_uart_getc reads the byte. */
void tf_uart_rx_irq(void)
{
    UART_INTCLEAR = 2u;
}
#endif

void tf_uart_putc(char c)
{
    while (UART_STATE & 1u) {
    }
    UART_DATA = (uint8_t)c;
}

char tf_uart_getc(void)
{
#ifdef TF_UART_RX_IRQ
    /* Sleep until a byte arrives. Interrupts are masked between the check and WFI so
     * a byte arriving in between still ends the WFI (it wakes on a pending IRQ). Under
     * QEMU this also lets the emulator deliver input at once instead of waiting for
     * its next time slice: a busy-polling guest receives far more slowly. */
    for (;;) {
        __asm__ volatile("cpsid i" ::: "memory");
        if (UART_STATE & 2u) {
            __asm__ volatile("cpsie i" ::: "memory");
            break;
        }
        __asm__ volatile("wfi\n\tcpsie i" ::: "memory");
    }
#else
    while (!(UART_STATE & 2u)) {
    }
#endif
    return (char)UART_DATA;
}
