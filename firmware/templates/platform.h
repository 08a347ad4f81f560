/* The few services the protocol needs from a board: a polled UART, a free-running
 * counter and clock set-up
 * (and, on boards that have one, the timestamp pin). One implementation per board kind (drivers/). */
#ifndef TF_PLATFORM_H
#define TF_PLATFORM_H

#include <stdint.h>

#define TF_REG(address) (*(volatile uint32_t *)(address))

void tf_clock_init(void);
void tf_uart_init(void);
void tf_uart_putc(char c);
char tf_uart_getc(void);          /* blocks until a byte arrives */
int tf_uart_rx_ready(void);       /* nonzero if a byte waits: tf_uart_getc won't block */
void tf_counter_init(void);
uint64_t tf_counter_read(void);   /* raw ticks; TF_COUNTER_NUM / DEN convert to units */
/* Boards with a timestamp pin (TF_HAS_TIMESTAMP_PIN): an output, idle high. */
void tf_timestamp_pin_init(void);
void tf_timestamp_pin_set(int level);

#endif /* TF_PLATFORM_H */
