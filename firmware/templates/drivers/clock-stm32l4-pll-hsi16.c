/* STM32L4R5: SYSCLK = 120 MHz from HSI16 through the PLL (16 MHz / M1 * N15 / R2),
 * voltage range 1 boost mode, 5 flash wait states. Above 80 MHz the reference
 * manual asks for an AHB /2 step while switching to the PLL. */
#define RCC_CR TF_REG(0x40021000u)
#define RCC_CFGR TF_REG(0x40021008u)
#define RCC_PLLCFGR TF_REG(0x4002100Cu)
#define RCC_APB1ENR1_CLK TF_REG(0x40021058u)
#define PWR_CR5 TF_REG(0x40007080u)
#define FLASH_ACR TF_REG(0x40022000u)

void tf_clock_init(void)
{
    RCC_APB1ENR1_CLK |= 1u << 28;                 /* PWREN */
    (void)RCC_APB1ENR1_CLK;
    PWR_CR5 &= ~(1u << 8);                        /* R1MODE = 0: range 1 boost */
    RCC_CR |= 1u << 8;                            /* HSION */
    while (!(RCC_CR & (1u << 10))) {              /* HSIRDY */
    }
    FLASH_ACR = (FLASH_ACR & ~0xFu) | 5u | (1u << 8) | (1u << 9) | (1u << 10);
    while ((FLASH_ACR & 0xFu) != 5u) {
    }
    RCC_PLLCFGR = 2u                              /* PLLSRC = HSI16 */
                | (0u << 4)                       /* PLLM = /1 */
                | (15u << 8)                      /* PLLN = x15: VCO 240 MHz */
                | (0u << 25)                      /* PLLR = /2: 120 MHz */
                | (1u << 24);                     /* PLLREN */
    RCC_CR |= 1u << 24;                           /* PLLON */
    while (!(RCC_CR & (1u << 25))) {              /* PLLRDY */
    }
    RCC_CFGR = (RCC_CFGR & ~((0xFu << 4) | 3u)) | (8u << 4) | 3u;   /* AHB /2, SW = PLL */
    while (((RCC_CFGR >> 2) & 3u) != 3u) {
    }
    for (volatile int i = 0; i < 200; ++i) {      /* > 1 us at 60 MHz */
    }
    RCC_CFGR &= ~(0xFu << 4);                     /* AHB /1: 120 MHz */
}
