/* gcc 12.2 (Debian 12.2.0-14) at -O2 on x86-64 miscompiles this layer, the shape tinyflow
 * generates for a MEAN over 8 contiguous values: with its loop vectorizer on, main prints
 * 0 0 0 0 instead of 16 29 42 54 (no undefined behaviour: -fsanitize=undefined is silent
 * and then prints the right values). tinyflow's host builds therefore pass
 * -fno-tree-loop-vectorize (firmware/build.py); tests/test_c_runtime.py builds this file
 * with those flags. Arm builds are unaffected (no vectorizer for Cortex-M). */
#include <stdint.h>
#include <stdio.h>

#include "tf_runtime.h"

static uint8_t arena[224] __attribute__((aligned(16)));

__attribute__((noinline)) static void layer(void)
{
    const int8_t *const input = (int8_t *)(arena + 0);
    int8_t *output = (int8_t *)(arena + 192);
    for (int k0 = 0; k0 < 24; ++k0) {
        const int8_t *const base = input + k0 * 8;
        int32_t sum = 0;
        for (int r0 = 0; r0 < 8; ++r0) {
            sum += base[r0];
        }
        const int32_t value = tf_multiply_by_quantized_multiplier(sum + 8, 1714307229, -2) + 12;
        *output++ = (int8_t)tf_clamp(value, -128, 127);
    }
}

int main(void)
{
    for (int i = 0; i < 192; i++) {
        arena[i] = (uint8_t)(i * 37);
    }
    layer();
    printf("%d %d %d %d\n", (int8_t)arena[192], (int8_t)arena[193], (int8_t)arena[194],
           (int8_t)arena[195]);
    return 0;
}
