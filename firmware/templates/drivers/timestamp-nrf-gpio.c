/* nRF51/52 GPIO: P0 at 0x50000000 (P1 at 0x50000300 on the nRF52840); pin numbers
 * >= 32 are P1. The timestamp pin is a push-pull output. */
#define TIMESTAMP_PORT (0x50000000u + (TF_TIMESTAMP_PIN >> 5) * 0x300u)
#define TIMESTAMP_BIT (1u << (TF_TIMESTAMP_PIN & 31u))
#define TIMESTAMP_OUTSET TF_REG(TIMESTAMP_PORT + 0x508u)
#define TIMESTAMP_OUTCLR TF_REG(TIMESTAMP_PORT + 0x50Cu)
#define TIMESTAMP_PIN_CNF TF_REG(TIMESTAMP_PORT + 0x700u + 4u * (TF_TIMESTAMP_PIN & 31u))

void tf_timestamp_pin_init(void)
{
    TIMESTAMP_OUTSET = TIMESTAMP_BIT;   /* high before it becomes an output */
    TIMESTAMP_PIN_CNF = 1u;             /* DIR = output, input buffer disconnected */
}

void tf_timestamp_pin_set(int level)
{
    if (level) {
        TIMESTAMP_OUTSET = TIMESTAMP_BIT;
    } else {
        TIMESTAMP_OUTCLR = TIMESTAMP_BIT;
    }
}
