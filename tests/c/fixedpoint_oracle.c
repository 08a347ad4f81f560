/* Reads lines "<function> <a> <b> [<c>]" and prints what the C runtime's function of
 * that name returns: the oracle tests/test_fixedpoint.py compares codegen/fixedpoint.py
 * with. */
#include <stdio.h>
#include <string.h>

#include "tf_runtime.h"

int main(void)
{
    char name[32];
    long a, b, c;
    while (scanf("%31s %ld %ld %ld", name, &a, &b, &c) == 4) {
        long result;
        if (strcmp(name, "srdhm") == 0) {
            result = tf_sat_rounding_doubling_high_mul((int32_t)a, (int32_t)b);
        } else if (strcmp(name, "rdbp") == 0) {
            result = tf_rounding_divide_by_pot((int32_t)a, (int)b);
        } else if (strcmp(name, "srmbp") == 0) {
            result = tf_sat_rounding_mul_by_pot((int32_t)a, (int)b);
        } else if (strcmp(name, "mbqm") == 0) {
            result = tf_multiply_by_quantized_multiplier((int32_t)a, (int32_t)b, (int)c);
        } else {
            fprintf(stderr, "unknown function %s\n", name);
            return 1;
        }
        printf("%ld\n", result);
    }
    return 0;
}
