/* ARM CMSDK APB UART (MPS2 boards): DATA, STATE (bit 0 TX full, bit 1 RX full), CTRL. */
#define UART_DATA TF_REG(TF_UART_BASE + 0x00u)
#define UART_STATE TF_REG(TF_UART_BASE + 0x04u)
#define UART_CTRL TF_REG(TF_UART_BASE + 0x08u)
#define UART_BAUDDIV TF_REG(TF_UART_BASE + 0x10u)

void tf_uart_init(void)
{
    UART_BAUDDIV = TF_CLOCK_HZ / TF_UART_BAUD;
    UART_CTRL = 3u; /* TX and RX enable */
}

void tf_uart_putc(char c)
{
    while (UART_STATE & 1u) {
    }
    UART_DATA = (uint8_t)c;
}

int tf_uart_rx_ready(void)
{
    return (UART_STATE & 2u) != 0u;
}

char tf_uart_getc(void)
{
    while (!tf_uart_rx_ready()) {
    }
    return (char)UART_DATA;
}
