/* The native build's counter: CLOCK_MONOTONIC in nanoseconds. */
#include <time.h>

void tf_counter_init(void)
{
}

uint64_t tf_counter_read(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}
