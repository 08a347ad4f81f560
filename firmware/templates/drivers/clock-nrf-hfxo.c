/* nRF52: the CPU always runs at 64 MHz; start the crystal oscillator (HFXO) so the
 * UART baud rate and the cycle counter's time base are accurate. */
#define CLOCK_TASKS_HFCLKSTART TF_REG(0x40000000u)
#define CLOCK_EVENTS_HFCLKSTARTED TF_REG(0x40000100u)

void tf_clock_init(void)
{
    CLOCK_EVENTS_HFCLKSTARTED = 0u;
    CLOCK_TASKS_HFCLKSTART = 1u;
    while (!CLOCK_EVENTS_HFCLKSTARTED) {
    }
}
