/* SysTick from the CPU clock, counting down from 2^24 - 1; the interrupt counts the
 * wraps. Under QEMU -icount its ticks measure executed guest instructions. */
#define SYST_CSR TF_REG(0xE000E010u)
#define SYST_RVR TF_REG(0xE000E014u)
#define SYST_CVR TF_REG(0xE000E018u)

static volatile uint32_t systick_wraps;

void SysTick_Handler(void)
{
    ++systick_wraps;
}

void tf_counter_init(void)
{
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0u;
    SYST_CSR = 7u;   /* enable, interrupt, processor clock */
}

uint64_t tf_counter_read(void)
{
    uint32_t high, value;
    do {
        high = systick_wraps;
        value = SYST_CVR;
    } while (high != systick_wraps);
    return ((uint64_t)high << 24) + (0x00FFFFFFu - value);
}
