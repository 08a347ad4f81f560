/* Zephyr compiles every file with `-imacros zephyr/toolchain/zephyr_stdint.h`, which
 * makes the 32-bit integer types `int` (arm-none-eabi-gcc's own are `long`) and the
 * 64-bit ones `long long`. The same definitions, so that the exported sources are
 * compiled as in a Zephyr build. */
#undef __INT32_TYPE__
#undef __UINT32_TYPE__
#undef __INT_LEAST32_TYPE__
#undef __UINT_LEAST32_TYPE__
#undef __INT_FAST32_TYPE__
#undef __UINT_FAST32_TYPE__
#define __INT32_TYPE__ int
#define __UINT32_TYPE__ unsigned int
#define __INT_LEAST32_TYPE__ int
#define __UINT_LEAST32_TYPE__ unsigned int
#define __INT_FAST32_TYPE__ int
#define __UINT_FAST32_TYPE__ unsigned int
#undef __INT64_TYPE__
#undef __UINT64_TYPE__
#define __INT64_TYPE__ long long int
#define __UINT64_TYPE__ unsigned long long int
#undef __INTPTR_TYPE__
#undef __UINTPTR_TYPE__
#define __INTPTR_TYPE__ long int
#define __UINTPTR_TYPE__ long unsigned int
#undef __INT32_C
#undef __UINT32_C
#define __INT32_C(c) c
#define __UINT32_C(c) c ## U
