/* What the Arduino core does around a sketch, on this computer: setup() once (the
 * example sketch does its work there), then one loop(). */
#include "Arduino.h"

SerialStandIn Serial;

unsigned long micros(void) { return 0; }

int main(void) {
  setup();
  loop();
  return 0;
}
