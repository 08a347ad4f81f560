/* STM32L4 GPIO: port n (A = 0) at 0x48000000 + 0x400 n, clocked by RCC_AHB2ENR bit n.
 * The timestamp pin is a push-pull output; BSRR sets (low half) or resets (high half)
 * it in one write. */
#define TIMESTAMP_GPIO (0x48000000u + TF_TIMESTAMP_PORT * 0x400u)
#define TIMESTAMP_MODER TF_REG(TIMESTAMP_GPIO + 0x00u)
#define TIMESTAMP_BSRR TF_REG(TIMESTAMP_GPIO + 0x18u)
#define TIMESTAMP_RCC_AHB2ENR TF_REG(0x4002104Cu)

void tf_timestamp_pin_init(void)
{
    TIMESTAMP_RCC_AHB2ENR |= 1u << TF_TIMESTAMP_PORT;
    (void)TIMESTAMP_RCC_AHB2ENR;        /* read back: the clock is on before use */
    TIMESTAMP_BSRR = 1u << TF_TIMESTAMP_PIN;   /* high before it becomes an output */
    TIMESTAMP_MODER = (TIMESTAMP_MODER & ~(3u << (2u * TF_TIMESTAMP_PIN)))
                      | (1u << (2u * TF_TIMESTAMP_PIN));
}

void tf_timestamp_pin_set(int level)
{
    TIMESTAMP_BSRR = level ? 1u << TF_TIMESTAMP_PIN : 1u << (TF_TIMESTAMP_PIN + 16u);
}
