/* A stand-in for the Arduino core's Arduino.h with only what tinyflow's example
 * sketch uses: Serial (printing to stdout), micros(), and the sketch's entry points.
 * The tests compile the sketch as C++ with it (the model's header must work from C++)
 * and, on this computer, run it. Not a part of tinyflow. */
#ifndef TINYFLOW_TEST_ARDUINO_H
#define TINYFLOW_TEST_ARDUINO_H

#include <stdio.h>

class SerialStandIn {
 public:
  void begin(unsigned long) {}
  explicit operator bool() const { return true; }
  void print(const char *text) { fputs(text, stdout); }
  void print(char c) { putchar(c); }
  void print(long value) { printf("%ld", value); }
  void print(unsigned long value) { printf("%lu", value); }
  void print(double value, int digits) { printf("%.*f", digits, value); }
  void println(const char *text) { puts(text); }
  void println() { putchar('\n'); }
};

extern SerialStandIn Serial;
unsigned long micros(void);

void setup(void);
void loop(void);

#endif
