/* STM32L4 LPUART1 on PG7 (TX) / PG8 (RX), alternate function 8. Port G is powered
 * from VDDIO2, which must be declared valid (PWR_CR2.IOSV) before use. */
#define RCC_BASE 0x40021000u
#define RCC_AHB2ENR TF_REG(RCC_BASE + 0x4Cu)
#define RCC_APB1ENR1 TF_REG(RCC_BASE + 0x58u)
#define RCC_APB1ENR2 TF_REG(RCC_BASE + 0x5Cu)
#define PWR_CR2 TF_REG(0x40007004u)
#define GPIOG_BASE 0x48001800u
#define GPIOG_MODER TF_REG(GPIOG_BASE + 0x00u)
#define GPIOG_AFRL TF_REG(GPIOG_BASE + 0x20u)
#define GPIOG_AFRH TF_REG(GPIOG_BASE + 0x24u)
#define LPUART_CR1 TF_REG(TF_UART_BASE + 0x00u)
#define LPUART_BRR TF_REG(TF_UART_BASE + 0x0Cu)
#define LPUART_ISR TF_REG(TF_UART_BASE + 0x1Cu)
#define LPUART_RDR TF_REG(TF_UART_BASE + 0x24u)
#define LPUART_TDR TF_REG(TF_UART_BASE + 0x28u)

void tf_uart_init(void)
{
    RCC_APB1ENR1 |= 1u << 28;          /* PWREN */
    PWR_CR2 |= 1u << 9;                /* IOSV: VDDIO2 valid, port G usable */
    RCC_AHB2ENR |= 1u << 6;            /* GPIOGEN */
    RCC_APB1ENR2 |= 1u << 0;           /* LPUART1EN (clocked from PCLK1) */
    (void)RCC_APB1ENR2;                /* read back: the clock is on before use */
    GPIOG_MODER = (GPIOG_MODER & ~((3u << 14) | (3u << 16))) | (2u << 14) | (2u << 16);
    GPIOG_AFRL = (GPIOG_AFRL & ~(0xFu << 28)) | (8u << 28);   /* PG7: AF8 */
    GPIOG_AFRH = (GPIOG_AFRH & ~0xFu) | 8u;                  /* PG8: AF8 */
    LPUART_BRR = (uint32_t)(((uint64_t)TF_CLOCK_HZ * 256u) / TF_UART_BAUD);
    LPUART_CR1 = (1u << 3) | (1u << 2) | 1u;                 /* TE, RE, UE */
}

void tf_uart_putc(char c)
{
    while (!(LPUART_ISR & (1u << 7))) { /* TXE */
    }
    LPUART_TDR = (uint8_t)c;
}

int tf_uart_rx_ready(void)
{
    if (LPUART_ISR & (1u << 3)) {       /* overrun: clear it and keep reading */
        TF_REG(TF_UART_BASE + 0x20u) = 1u << 3;
    }
    return (LPUART_ISR & (1u << 5)) != 0u;   /* RXNE */
}

char tf_uart_getc(void)
{
    while (!tf_uart_rx_ready()) {
    }
    return (char)LPUART_RDR;
}
