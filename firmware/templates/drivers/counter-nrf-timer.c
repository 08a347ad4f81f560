/* nRF51/52 TIMER in 32-bit timer mode at 16 MHz; CAPTURE[0] latches the count into
 * CC[0]. Extended to 64 bits in software (reads at least once per 2^32 ticks). */
#define TIMER_START TF_REG(TF_COUNTER_BASE + 0x000u)
#define TIMER_CLEAR TF_REG(TF_COUNTER_BASE + 0x00Cu)
#define TIMER_CAPTURE0 TF_REG(TF_COUNTER_BASE + 0x040u)
#define TIMER_MODE TF_REG(TF_COUNTER_BASE + 0x504u)
#define TIMER_BITMODE TF_REG(TF_COUNTER_BASE + 0x508u)
#define TIMER_PRESCALER TF_REG(TF_COUNTER_BASE + 0x510u)
#define TIMER_CC0 TF_REG(TF_COUNTER_BASE + 0x540u)

static uint32_t last_count;
static uint32_t wraps;

void tf_counter_init(void)
{
    TIMER_MODE = 0u;       /* timer */
    TIMER_BITMODE = 3u;    /* 32 bit */
    TIMER_PRESCALER = 0u;  /* 16 MHz */
    TIMER_CLEAR = 1u;
    TIMER_START = 1u;
}

uint64_t tf_counter_read(void)
{
    TIMER_CAPTURE0 = 1u;
    const uint32_t now = TIMER_CC0;
    if (now < last_count) {
        ++wraps;
    }
    last_count = now;
    return ((uint64_t)wraps << 32) | now;
}
