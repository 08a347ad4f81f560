/* Nordic nRF51 UART / nRF52 legacy UART0 (polled, no EasyDMA). */
#define UART_STARTRX TF_REG(TF_UART_BASE + 0x000u)
#define UART_STARTTX TF_REG(TF_UART_BASE + 0x008u)
#define UART_RXDRDY TF_REG(TF_UART_BASE + 0x108u)
#define UART_TXDRDY TF_REG(TF_UART_BASE + 0x11Cu)
#define UART_ENABLE TF_REG(TF_UART_BASE + 0x500u)
#define UART_PSELTXD TF_REG(TF_UART_BASE + 0x50Cu)
#define UART_PSELRXD TF_REG(TF_UART_BASE + 0x514u)
#define UART_RXD TF_REG(TF_UART_BASE + 0x518u)
#define UART_TXD TF_REG(TF_UART_BASE + 0x51Cu)
#define UART_BAUDRATE TF_REG(TF_UART_BASE + 0x524u)
/* BAUDRATE: the product specification's register values for the standard rates;
 * others from the register's meaning, baud * 2^32 / 16 MHz to 4096. */
#if TF_UART_BAUD == 9600
#define UART_BAUD_VALUE 0x00275000u
#elif TF_UART_BAUD == 19200
#define UART_BAUD_VALUE 0x004EA000u
#elif TF_UART_BAUD == 38400
#define UART_BAUD_VALUE 0x009D5000u
#elif TF_UART_BAUD == 57600
#define UART_BAUD_VALUE 0x00EBF000u
#elif TF_UART_BAUD == 115200
#define UART_BAUD_VALUE 0x01D7E000u
#elif TF_UART_BAUD == 230400
#define UART_BAUD_VALUE 0x03AFB000u
#elif TF_UART_BAUD == 460800
#define UART_BAUD_VALUE 0x075F7000u
#elif TF_UART_BAUD == 921600
#define UART_BAUD_VALUE 0x0EBED000u
#elif TF_UART_BAUD == 1000000
#define UART_BAUD_VALUE 0x10000000u
#else
#define UART_BAUD_VALUE \
    ((uint32_t)((((uint64_t)TF_UART_BAUD << 32) / 16000000u + 0x800u) & 0xFFFFF000u))
#endif

/* GPIO: P0 at 0x50000000 (P1 at 0x50000300 on the nRF52840); pin numbers >= 32 are P1. */
#define GPIO_PORT(pin) (0x50000000u + ((uint32_t)(pin) >> 5) * 0x300u)
#define GPIO_OUTSET(pin) TF_REG(GPIO_PORT(pin) + 0x508u)
#define GPIO_PIN_CNF(pin) TF_REG(GPIO_PORT(pin) + 0x700u + 4u * ((uint32_t)(pin) & 31u))

void tf_uart_init(void)
{
#ifdef TF_UART_TX_PIN
    /* TX idles high: drive it as an output before the UART takes the pin. */
    GPIO_OUTSET(TF_UART_TX_PIN) = 1u << (TF_UART_TX_PIN & 31);
    GPIO_PIN_CNF(TF_UART_TX_PIN) = 1u;  /* DIR = output */
    GPIO_PIN_CNF(TF_UART_RX_PIN) = 0u;  /* input, buffer connected */
    UART_PSELTXD = TF_UART_TX_PIN;
    UART_PSELRXD = TF_UART_RX_PIN;
#endif
    UART_BAUDRATE = UART_BAUD_VALUE;
    UART_ENABLE = 4u;
    UART_STARTTX = 1u;
    UART_STARTRX = 1u;
}

void tf_uart_putc(char c)
{
    UART_TXDRDY = 0u;
    UART_TXD = (uint8_t)c;
    while (!UART_TXDRDY) {
    }
}

int tf_uart_rx_ready(void)
{
    return UART_RXDRDY != 0u;
}

char tf_uart_getc(void)
{
    while (!tf_uart_rx_ready()) {
    }
    UART_RXDRDY = 0u;
    return (char)UART_RXD;
}
