/* DWT cycle counter (Cortex-M3/M4/M7 with a debug unit). CYCCNT is 32 bits; it is
 * extended in software, so reads must come at least once per wrap (2^32 cycles). */
#define DEMCR TF_REG(0xE000EDFCu)
#define DWT_CTRL TF_REG(0xE0001000u)
#define DWT_CYCCNT TF_REG(0xE0001004u)

static uint32_t last_count;
static uint32_t wraps;

void tf_counter_init(void)
{
    DEMCR |= 1u << 24;   /* TRCENA */
    DWT_CYCCNT = 0u;
    DWT_CTRL |= 1u;      /* CYCCNTENA */
}

uint64_t tf_counter_read(void)
{
    const uint32_t now = DWT_CYCCNT;
    if (now < last_count) {
        ++wraps;
    }
    last_count = now;
    return ((uint64_t)wraps << 32) | now;
}
