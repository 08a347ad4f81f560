/* The device side of the EEMBC / MLPerf Tiny DUT serial protocol, around the
 * generated model. Commands end with '%'; every reply ends with "m-ready".
 *
 *   name                  m-name-dut-[tinyflow]
 *   profile               m-profile-[...], m-model-[ID] (the build's model id)
 *   timestamp             m-lap-us-N: the board's counted units (cycles, or
 *                         instructions under QEMU) at its clock, in microseconds;
 *                         also a falling edge on the timestamp pin, if the board has one
 *   db load N             m-[Expecting N bytes]        (input buffer for N bytes)
 *   db HEX                m-load-done when N bytes are in; the bytes become the
 *                         model's input as the build says (TF_INPUT_TRANSFORM)
 *   db print              m-buffer-xx-xx-... (the bytes as they were sent)
 *   infer N W             N timed inferences after W warmups, then the results;
 *                         a byte other than a line end stops it between
 *                         inferences (send '%'): e-[infer interrupted after K of N
 *                         inferences]
 *   results               m-results-[f,f,...]          (dequantized outputs), or
 *                         m-results-[f] (TF_RESULT_MSE: the reconstruction error)
 * tinyflow extensions (prefix tf-):
 *   tf-load N             N raw input bytes follow the '%' (half the bytes of hex),
 *                         the model's own input bytes whatever TF_INPUT_TRANSFORM;
 *                         m-tf-load-done-SUM with their sum, for the host to check;
 *                         1 s without a byte: e-[tf-load timeout after K of N bytes]
 *   tf-info               board, counter unit, model sizes
 *   tf-results            m-tf-bytes-HEX...            (raw output bytes)
 *   tf-layers             per-layer counts of one inference
 *   tf-mem                stack high-water, stack size, arena, RAM sections
 *   tf-tensor L           runs layers 0..L, dumps layer L's output bytes
 *   tf-calibrate N        times a loop of 2 N instructions (checks the counter)
 * Errors are "e-[...]" lines.
 *
 * Part of tinyflow's firmware (firmware/templates/ in tinyflow), copied verbatim into
 * every build: the same for every model and board. What differs comes from generated
 * headers: the board (tf_board.h) and the model (tf_model_info.h). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tf_board.h"
#include "platform.h"
#include "tf_hooks.h"

/* How the bytes of `db` become the model's input (TF_INPUT_TRANSFORM, chosen by the
 * build: firmware/dut.py). */
#define TF_TRANSFORM_NONE 0              /* copied as they are */
#define TF_TRANSFORM_UINT8_MINUS_128 1   /* uint8 pixels - 128, as int8 */
#define TF_TRANSFORM_FLOAT32_QUANTIZE 2  /* float32 values quantized on the device */

#include "tf_model_info.h"

#if TF_INPUT_TRANSFORM == TF_TRANSFORM_FLOAT32_QUANTIZE && defined(__BYTE_ORDER__) \
    && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "float32-quantize reads the db bytes as little-endian floats"
#endif

static const uint32_t input_bytes[TF_NUM_INPUTS] = TF_INPUT_BYTES;
static const uint32_t output_bytes[TF_NUM_OUTPUTS] = TF_OUTPUT_BYTES;
#if !TF_RESULT_MSE
static const uint8_t output_is_int8[TF_NUM_OUTPUTS] = TF_OUTPUT_IS_INT8;
#endif
static const float output_scale[TF_NUM_OUTPUTS] = TF_OUTPUT_SCALES;
static const int32_t output_zero_point[TF_NUM_OUTPUTS] = TF_OUTPUT_ZERO_POINTS;

/* The model's input bytes (all inputs, concatenated), as `db` or `tf-load` left them;
 * each inference copies them into the arena, since layers may reuse the input's arena
 * space. */
static uint8_t db_buffer[TF_INPUT_TOTAL_BYTES];
#if TF_INPUT_TRANSFORM == TF_TRANSFORM_FLOAT32_QUANTIZE
/* The float input itself: `db` sends it; results in TF_RESULT_MSE compare with it. */
static float db_floats[TF_INPUT_TOTAL_BYTES];
#endif
static uint32_t db_expected;     /* bytes `db load` announced (TF_DB_BYTES when whole) */
static uint32_t db_loaded;       /* bytes `db` brought since */
static int input_complete;       /* db_buffer holds a whole input */
static int input_raw;            /* ... which tf-load sent: the model's bytes themselves */

static char command[TF_CMD_BYTES + 1];

/* Raw bytes that stop short (a host that died, a wrong count) must not hang the board
 * until a reset: a payload read gives up after 1 s without a byte. In counter ticks,
 * so virtual time under QEMU (its counter advances with the busy-wait's instructions,
 * which QEMU runs slower than virtual time: a few seconds of real time there). */
#define PAYLOAD_TIMEOUT_TICKS ((uint64_t)TF_COUNTER_HZ)

volatile int tf_profiling;
static uint64_t layer_started;
static uint64_t layer_ticks[TF_NUM_LAYERS];

#if TF_BARE_METAL
extern uint32_t _stack_bottom, _stack_top, _sdata, _edata, _sbss, _ebss;
#endif

/* --- output: a few formatting helpers instead of printf (smaller, no heap) --- */

static void put_str(const char *text)
{
    while (*text) {
        tf_uart_putc(*text++);
    }
}

/* Out of line: -O2 would otherwise copy it into every command (1 KB more flash). */
__attribute__((noinline)) static void put_u64(uint64_t value)
{
    char digits[21];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(value % 10u));
        value /= 10u;
    } while (value);
    while (n) {
        tf_uart_putc(digits[--n]);
    }
}

static void put_hex8(uint8_t value)
{
    static const char hex[] = "0123456789abcdef";
    tf_uart_putc(hex[value >> 4]);
    tf_uart_putc(hex[value & 15u]);
}

/* A value with three decimals, as MLPerf Tiny's reference firmware prints results. */
static void put_fixed3(float value)
{
    if (value < 0.0f) {
        tf_uart_putc('-');
        value = -value;
    }
    const uint64_t thousandths = (uint64_t)(value * 1000.0f + 0.5f);
    put_u64(thousandths / 1000u);
    tf_uart_putc('.');
    const uint32_t fraction = (uint32_t)(thousandths % 1000u);
    tf_uart_putc((char)('0' + fraction / 100u));
    tf_uart_putc((char)('0' + fraction / 10u % 10u));
    tf_uart_putc((char)('0' + fraction % 10u));
}

static void put_line(const char *text)
{
    put_str(text);
    put_str("\r\n");
}

static void put_error(const char *what, const char *detail)
{
    put_str("e-[");
    put_str(what);
    put_str(detail);
    put_line("]");
}

/* Counts in the board's unit (instructions under QEMU, cycles on real cores). */
static uint64_t ticks_to_units(uint64_t ticks)
{
    return ticks * TF_COUNTER_NUM / TF_COUNTER_DEN;
}

/* The board's clock model, the one measure and profile report times in: one counted
 * unit per cycle of TF_CLOCK_HZ. Exact on real cores (cycles); under QEMU an
 * instruction counts as one cycle. Split so a long uptime cannot overflow. */
static uint64_t units_to_us(uint64_t units)
{
    return units / TF_CLOCK_HZ * 1000000u + units % TF_CLOCK_HZ * 1000000u / TF_CLOCK_HZ;
}

#if TF_HAS_TIMESTAMP_PIN
/* The pin idles high; a timestamp pulls it low for 10 us (EEMBC asks for at least 1). */
static void pulse_timestamp_pin(void)
{
    tf_timestamp_pin_set(0);
    const uint64_t started = tf_counter_read();
    while (tf_counter_read() - started <= TF_COUNTER_HZ / 100000u) {
    }
    tf_timestamp_pin_set(1);
}
#endif

/* A timestamp: m-lap-us-N for the runner's performance mode and, on boards with a
 * timestamp pin, the falling edge an EEMBC energy monitor records. The edge comes
 * after the line when a timed region starts and before it when one ends, so the
 * energy window holds no serial output. */
static void put_timestamp(int edge_before_line)
{
    const uint64_t now = tf_counter_read();
#if TF_HAS_TIMESTAMP_PIN
    if (edge_before_line) {
        pulse_timestamp_pin();
    }
#else
    (void)edge_before_line;
#endif
    put_str("m-lap-us-");
    put_u64(units_to_us(ticks_to_units(now)));
    put_str("\r\n");
#if TF_HAS_TIMESTAMP_PIN
    if (!edge_before_line) {
        pulse_timestamp_pin();
    }
#endif
}

void tf_fault(const char *what)
{
    put_error("fault: ", what);
    for (;;) {
    }
}

/* --- profiling hooks (tf_hooks.h) --- */

void tf_layer_begin(int layer)
{
    (void)layer;
    layer_started = tf_counter_read();
}

void tf_layer_end(int layer)
{
    layer_ticks[layer] += tf_counter_read() - layer_started;
}

/* --- input --- */

/* The next payload byte (0..255), or -1 if none came within PAYLOAD_TIMEOUT_TICKS. */
static int read_payload_byte(void)
{
    const uint64_t started = tf_counter_read();
    while (!tf_uart_rx_ready()) {
        if (tf_counter_read() - started > PAYLOAD_TIMEOUT_TICKS) {
            return -1;
        }
    }
    return (uint8_t)tf_uart_getc();
}

/* --- parsing --- */

static int parse_u32(const char *text, uint32_t *value)
{
    uint64_t result = 0;
    if (!text || !*text) {
        return 0;
    }
    for (; *text; ++text) {
        if (*text < '0' || *text > '9') {
            return 0;
        }
        result = result * 10u + (uint64_t)(*text - '0');
        if (result > 0xFFFFFFFFu) {
            return 0;
        }
    }
    *value = (uint32_t)result;
    return 1;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Splits the command line in place into at most `max` space-separated words. */
static int split_words(char *line, char **words, int max)
{
    int count = 0;
    while (*line && count < max) {
        while (*line == ' ') {
            *line++ = '\0';
        }
        if (!*line) {
            break;
        }
        words[count++] = line;
        while (*line && *line != ' ') {
            ++line;
        }
    }
    return count;
}

/* --- model helpers --- */

static int input_ready(void)
{
    if (!input_complete) {
        put_str("e-[no input loaded: send 'db load ");
        put_u64(TF_DB_BYTES);
        put_line("' and the bytes first]");
        return 0;
    }
    return 1;
}

/* --- the db bytes and the model's input (TF_INPUT_TRANSFORM) --- */

#if TF_INPUT_TRANSFORM == TF_TRANSFORM_FLOAT32_QUANTIZE
/* As MLPerf Tiny's reference submission quantizes: round half away from zero of
 * value / scale, plus the zero point, clamped to int8 (NaN gives -128). */
static int8_t quantize_input(float value)
{
    float q = roundf(value / TF_INPUT_SCALE);
    if (!(q > -1000.0f)) {
        q = -1000.0f;
    } else if (q > 1000.0f) {
        q = 1000.0f;
    }
    int32_t result = (int32_t)q + TF_INPUT_ZERO_POINT;
    result = result < -128 ? -128 : result > 127 ? 127 : result;
    return (int8_t)result;
}
#endif

/* Byte `index` of the db input arrives: it becomes part of the model's input. */
static void store_db_byte(uint32_t index, uint8_t byte)
{
#if TF_INPUT_TRANSFORM == TF_TRANSFORM_UINT8_MINUS_128
    db_buffer[index] = byte ^ 0x80u;     /* u - 128 as int8 is u with its top bit flipped */
#elif TF_INPUT_TRANSFORM == TF_TRANSFORM_FLOAT32_QUANTIZE
    ((uint8_t *)db_floats)[index] = byte;
    if (index % 4u == 3u) {
        db_buffer[index / 4u] = (uint8_t)quantize_input(db_floats[index / 4u]);
    }
#else
    db_buffer[index] = byte;
#endif
}

/* Byte `index` of the input as it was sent (for `db print`). */
static uint8_t sent_db_byte(uint32_t index)
{
    if (input_raw) {
        return db_buffer[index];
    }
#if TF_INPUT_TRANSFORM == TF_TRANSFORM_UINT8_MINUS_128
    return db_buffer[index] ^ 0x80u;
#elif TF_INPUT_TRANSFORM == TF_TRANSFORM_FLOAT32_QUANTIZE
    return ((const uint8_t *)db_floats)[index];
#else
    return db_buffer[index];
#endif
}

static void copy_inputs(void)
{
    const uint8_t *source = db_buffer;
    for (int i = 0; i < TF_NUM_INPUTS; ++i) {
        memcpy(tf_model_input(i), source, input_bytes[i]);
        source += input_bytes[i];
    }
}

static void put_hex_lines(const uint8_t *bytes, uint32_t count)
{
    for (uint32_t i = 0; i < count; i += 32u) {
        put_str("m-tf-bytes-");
        for (uint32_t j = i; j < count && j < i + 32u; ++j) {
            put_hex8(bytes[j]);
        }
        put_str("\r\n");
    }
}

#if TF_RESULT_MSE
/* The mean squared error between the dequantized output and the float input, summed
 * in order in float as MLPerf Tiny's reference submission for AD computes it. */
static float reconstruction_error(void)
{
    const int8_t *output = (const int8_t *)tf_model_output(0);
    float sum = 0.0f;
    for (uint32_t i = 0; i < TF_INPUT_TOTAL_BYTES; ++i) {
        const float value = (float)((int32_t)output[i] - output_zero_point[0]) * output_scale[0];
        const float difference = value - db_floats[i];
        sum += difference * difference;
    }
    return sum / (float)TF_INPUT_TOTAL_BYTES;
}

static void print_results(void)
{
    put_str("m-results-[");
    put_fixed3(reconstruction_error());
    put_line("]");
}
#else
static void print_results(void)
{
    put_str("m-results-[");
    for (int o = 0; o < TF_NUM_OUTPUTS; ++o) {
        const uint8_t *raw = (const uint8_t *)tf_model_output(o);
        for (uint32_t i = 0; i < output_bytes[o]; ++i) {
            if (o || i) {
                tf_uart_putc(',');
            }
            const int32_t q = output_is_int8[o] ? (int32_t)(int8_t)raw[i] : (int32_t)raw[i];
            put_fixed3(output_scale[o] * (float)(q - output_zero_point[o]));
        }
    }
    put_line("]");
}
#endif

/* --- commands: each gets the words of its line (words[0] is its name) --- */

static void command_name(char **words, int count)
{
    (void)words;
    (void)count;
    put_line("m-name-dut-[tinyflow]");
}

static void command_profile(char **words, int count)
{
    (void)words;
    (void)count;
    put_line("m-profile-[ULPMark for tinyML Firmware V0.0.1]");
    put_line("m-model-[" TF_MODEL_ID "]");
}

static void command_timestamp(char **words, int count)
{
    (void)words;
    (void)count;
    put_timestamp(1);
}

static void command_db(char **words, int count)
{
    uint32_t n;
    if (count < 2) {
        put_line("e-[Command 'db' requires a subcommand]");
    } else if (strcmp(words[1], "load") == 0) {
        if (count < 3 || !parse_u32(words[2], &n) || n == 0) {
            put_line("e-[Command 'db load' requires the # of bytes, >0]");
        } else if (n > TF_DB_BYTES) {
            db_expected = 0;
            db_loaded = 0;
            input_complete = 0;
            input_raw = 0;
            put_str("e-[db load ");
            put_u64(n);
            put_str(" exceeds the input buffer of ");
            put_u64(TF_DB_BYTES);
            put_line(" bytes]");
        } else {
            db_expected = n;
            db_loaded = 0;
            input_complete = 0;
            input_raw = 0;
            put_str("m-[Expecting ");
            put_u64(n);
            put_line(" bytes]");
        }
    } else if (strcmp(words[1], "print") == 0) {
        const uint32_t shown = input_raw ? TF_INPUT_TOTAL_BYTES : db_loaded;
        for (uint32_t i = 0; i < shown; ++i) {
            if (i % 8u == 0) {
                put_str("m-buffer-");
            }
            put_hex8(sent_db_byte(i));
            put_str((i + 1) % 8u == 0 || i + 1 == shown ? "\r\n" : "-");
        }
    } else {
        const char *hex = words[1];
        const size_t digits = strlen(hex);
        if (db_expected == 0) {
            put_line("e-[db: no 'db load N' before the data]");
            return;
        }
        if (digits & 1u) {
            put_line("e-[Insufficent number of hex digits]");
            return;
        }
        for (size_t i = 0; i < digits; i += 2) {
            const int high = hex_value(hex[i]), low = hex_value(hex[i + 1]);
            if (high < 0 || low < 0) {
                put_line("e-[Invalid hex digit]");
                return;
            }
            if (db_loaded == db_expected) {
                put_str("e-[db overflow: more than the ");
                put_u64(db_expected);
                put_line(" bytes announced by 'db load']");
                return;
            }
            store_db_byte(db_loaded++, (uint8_t)(high << 4 | low));
            if (db_loaded == db_expected) {
                input_complete = db_loaded == TF_DB_BYTES;
                put_line("m-load-done");
            }
        }
    }
}

static void command_load(char **words, int count)
{
    uint32_t n;
    if (count < 2 || !parse_u32(words[1], &n) || n != TF_INPUT_TOTAL_BYTES) {
        put_str("e-[usage: tf-load N with N = ");
        put_u64(TF_INPUT_TOTAL_BYTES);
        put_line(", then N raw bytes]");
        return;
    }
    uint32_t sum = 0, got = 0;
    input_complete = 0;
    input_raw = 0;
    while (got < n) {
        const int byte = read_payload_byte();
        if (byte < 0) {
            /* The buffer now mixes old and new bytes: no input until the next load.
             * Bytes that arrive later are read as commands; the host resyncs. */
            db_expected = 0;
            db_loaded = 0;
            put_str("e-[tf-load timeout after ");
            put_u64(got);
            put_str(" of ");
            put_u64(n);
            put_line(" bytes]");
            return;
        }
        db_buffer[got++] = (uint8_t)byte;
        sum += (uint8_t)byte;
    }
    /* The `db` counters no longer describe the buffer. */
    db_expected = 0;
    db_loaded = 0;
    input_complete = 1;
    input_raw = 1;
#if TF_INPUT_TRANSFORM == TF_TRANSFORM_FLOAT32_QUANTIZE
    /* The float input these bytes stand for: each value dequantized. */
    for (uint32_t i = 0; i < TF_INPUT_TOTAL_BYTES; ++i) {
        db_floats[i] = (float)((int32_t)(int8_t)db_buffer[i] - TF_INPUT_ZERO_POINT)
                       * TF_INPUT_SCALE;
    }
#endif
    put_str("m-tf-load-done-");
    put_u64(sum);
    put_str("\r\n");
}

/* Whether the host asked a running `infer` to stop: a byte other than a line end
 * arrived (it is consumed). Line ends are dropped: a terminal or a runner that ends
 * `infer N W%` with a newline must not stop it. Polled between inferences, outside
 * the timed region, so counts do not change. */
static int infer_interrupted(uint32_t done, uint32_t total, const char *what)
{
    char byte = '\n';
    while (byte == '\r' || byte == '\n') {
        if (!tf_uart_rx_ready()) {
            return 0;
        }
        byte = tf_uart_getc();
    }
    put_str("e-[infer interrupted after ");
    put_u64(done);
    put_str(" of ");
    put_u64(total);
    put_str(what);
    put_line("]");
    return 1;
}

static void command_infer(char **words, int count)
{
    uint32_t n = 1, warmups = 10;
    if ((count >= 2 && (!parse_u32(words[1], &n) || n == 0))
        || (count >= 3 && !parse_u32(words[2], &warmups))) {
        put_line("e-[usage: infer N [W]: N > 0 inferences after W >= 0 warmups]");
        return;
    }
    if (!input_ready()) {
        return;
    }
    put_str("m-warmup-start-");
    put_u64(warmups);
    put_str("\r\n");
    for (uint32_t i = 0; i < warmups; ++i) {
        if (infer_interrupted(i, warmups, " warmups")) {
            return;
        }
        copy_inputs();
        tf_model_invoke();
    }
    put_line("m-warmup-done");
    put_str("m-infer-start-");
    put_u64(n);
    put_str("\r\n");
    /* Each inference is timed alone: the input copy before it is not counted. */
    uint64_t total = 0, least = UINT64_MAX, most = 0;
    put_timestamp(0);
    for (uint32_t i = 0; i < n; ++i) {
        if (infer_interrupted(i, n, " inferences")) {
            return;
        }
        copy_inputs();
        const uint64_t before = tf_counter_read();
        tf_model_invoke();
        const uint64_t ticks = tf_counter_read() - before;
        total += ticks;
        least = ticks < least ? ticks : least;
        most = ticks > most ? ticks : most;
    }
    put_timestamp(1);
    put_str("m-tf-infer-");
    put_u64(n);
    put_str("-total-");
    put_u64(ticks_to_units(total));
    put_str("-min-");
    put_u64(ticks_to_units(least));
    put_str("-max-");
    put_u64(ticks_to_units(most));
    put_str("-" TF_COUNTER_UNIT "\r\n");
    put_line("m-infer-done");
    print_results();
}

static void command_results(char **words, int count)
{
    (void)words;
    (void)count;
    print_results();
}

static void command_raw_results(char **words, int count)
{
    (void)words;
    (void)count;
    for (int o = 0; o < TF_NUM_OUTPUTS; ++o) {
        put_hex_lines((const uint8_t *)tf_model_output(o), output_bytes[o]);
    }
}

static void command_layers(char **words, int count)
{
    (void)words;
    (void)count;
    if (!input_ready()) {
        return;
    }
    copy_inputs();
    memset(layer_ticks, 0, sizeof(layer_ticks));
    tf_profiling = 1;
    const uint64_t before = tf_counter_read();
    tf_model_invoke();
    const uint64_t whole = tf_counter_read() - before;
    tf_profiling = 0;
    for (int layer = 0; layer < TF_NUM_LAYERS; ++layer) {
        put_str("m-tf-layer-");
        put_u64((uint64_t)layer);
        put_str("-");
        put_str(tf_model_layer_name(layer));
        put_str("-");
        put_u64(ticks_to_units(layer_ticks[layer]));
        put_str("\r\n");
    }
    put_str("m-tf-layers-total-");
    put_u64(ticks_to_units(whole));
    put_str("-" TF_COUNTER_UNIT "\r\n");
}

static void command_tensor(char **words, int count)
{
    uint32_t layer;
    if (count < 2 || !parse_u32(words[1], &layer) || layer >= TF_NUM_LAYERS) {
        put_str("e-[usage: tf-tensor L, with 0 <= L < ");
        put_u64(TF_NUM_LAYERS);
        put_line("]");
        return;
    }
    if (!input_ready()) {
        return;
    }
    copy_inputs();
    tf_model_invoke_layers(0, (int)layer + 1);
    uint32_t bytes = 0;
    const uint8_t *data = (const uint8_t *)tf_model_layer_output((int)layer, &bytes);
    put_str("m-tf-tensor-");
    put_u64(layer);
    put_str("-bytes-");
    put_u64(bytes);
    put_str("\r\n");
    put_hex_lines(data, bytes);
}

static void put_figure(const char *name, uint64_t value)
{
    put_str("m-tf-mem-");
    put_str(name);
    put_str("-");
    put_u64(value);
    put_str("\r\n");
}

static void command_mem(char **words, int count)
{
    (void)words;
    (void)count;
#if TF_BARE_METAL
    /* The startup code painted the stack; the first word no longer painted is the
     * deepest the stack has been. */
    const uint32_t *word = &_stack_bottom;
    while (word < &_stack_top && *word == 0xA5A5A5A5u) {
        ++word;
    }
    put_figure("stack-used", (uint64_t)((uintptr_t)&_stack_top - (uintptr_t)word));
    put_figure("stack-size", (uint64_t)((uintptr_t)&_stack_top - (uintptr_t)&_stack_bottom));
#endif
    put_figure("arena", TF_ARENA_BYTES);
#if TF_BARE_METAL
    put_figure("data", (uint64_t)((uintptr_t)&_edata - (uintptr_t)&_sdata));
    put_figure("bss", (uint64_t)((uintptr_t)&_ebss - (uintptr_t)&_sbss));
#endif
    put_figure("input-buffer", TF_INPUT_TOTAL_BYTES);
}

/* A loop of known length (two instructions per iteration: subs, bne) to check the
 * counter's scale: `tf-calibrate N` should report about 2 N instructions. */
static void command_calibrate(char **words, int count)
{
    uint32_t n;
    if (count < 2 || !parse_u32(words[1], &n) || n == 0) {
        put_line("e-[usage: tf-calibrate N, N > 0 loop iterations]");
        return;
    }
#if !TF_BARE_METAL
    put_line("e-[tf-calibrate needs an Arm core]");
#else
    const uint64_t before = tf_counter_read();
#if defined(__ARM_ARCH_6M__)
    /* Thumb-1 inline assembly is in divided syntax, where SUB sets the flags. */
    __asm__ volatile("1: sub %0, #1\n\tbne 1b" : "+l"(n) : : "cc");
#else
    __asm__ volatile("1: subs %0, #1\n\tbne 1b" : "+l"(n) : : "cc");
#endif
    const uint64_t ticks = tf_counter_read() - before;
    put_str("m-tf-calibrate-");
    put_u64(ticks_to_units(ticks));
    put_str("-" TF_COUNTER_UNIT "\r\n");
#endif
}

static void command_info(char **words, int count)
{
    (void)words;
    (void)count;
    put_line("m-tf-board-[" TF_BOARD_NAME "]");
    put_line("m-tf-model-[" TF_MODEL_NAME "]");
    put_line("m-tf-model-sha256-[" TF_MODEL_SHA256 "]");
    put_line("m-tf-unit-[" TF_COUNTER_UNIT "]");
    put_str("m-tf-clock-hz-");
    put_u64(TF_CLOCK_HZ);
    put_str("\r\nm-tf-layers-");
    put_u64(TF_NUM_LAYERS);
    put_str("\r\nm-tf-input-bytes-");
    put_u64(TF_INPUT_TOTAL_BYTES);
    put_str("\r\nm-tf-output-bytes-");
    put_u64(TF_OUTPUT_TOTAL_BYTES);
    put_str("\r\nm-tf-command-bytes-");
    put_u64(TF_CMD_BYTES);
    put_str("\r\n");
}

static void command_help(char **words, int count);

/* The commands, by their first word; `help` lists them in this order. */
static const struct {
    const char *name;
    void (*run)(char **words, int count);
} commands[] = {
    { "name", command_name },
    { "profile", command_profile },
    { "timestamp", command_timestamp },
    { "db", command_db },
    { "infer", command_infer },
    { "results", command_results },
    { "tf-load", command_load },
    { "tf-info", command_info },
    { "tf-results", command_raw_results },
    { "tf-layers", command_layers },
    { "tf-mem", command_mem },
    { "tf-tensor", command_tensor },
    { "tf-calibrate", command_calibrate },
    { "help", command_help },
};

#define NUM_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void command_help(char **words, int count)
{
    (void)words;
    (void)count;
    put_str("tinyflow DUT:");
    for (size_t i = 0; i < NUM_COMMANDS; ++i) {
        if (commands[i].run != command_help) {
            put_str(" ");
            put_str(commands[i].name);
        }
    }
    put_str("\r\n");
}

static void dispatch(char *line)
{
    char *words[4];
    const int count = split_words(line, words, 4);
    /* An empty command is the host's way to resynchronise: it gets just "m-ready". */
    if (count > 0) {
        size_t i = 0;
        while (i < NUM_COMMANDS && strcmp(commands[i].name, words[0]) != 0) {
            ++i;
        }
        if (i < NUM_COMMANDS) {
            commands[i].run(words, count);
        } else {
            put_error("Unknown command: ", words[0]);
        }
    }
    put_line("m-ready");
}

int main(void)
{
    tf_clock_init();
    tf_uart_init();
    tf_counter_init();
#if TF_HAS_TIMESTAMP_PIN
    tf_timestamp_pin_init();
#endif
    tf_model_init();
    put_line("m-timestamp-mode-performance");
    put_line("m-init-done");
    put_line("m-ready");

    uint32_t length = 0;
    int too_long = 0;
    for (;;) {
        const char c = tf_uart_getc();
        if (c == '%') {
            command[length] = '\0';
            if (too_long) {
                put_str("e-[command longer than ");
                put_u64(TF_CMD_BYTES);
                put_line(" characters]");
                put_line("m-ready");
            } else {
                dispatch(command);
            }
            length = 0;
            too_long = 0;
        } else if (c == '\r' || c == '\n' || c == '\0') {
            /* line ends are not part of the protocol: ignore them */
        } else if (length < TF_CMD_BYTES) {
            command[length++] = c;
        } else {
            too_long = 1;
        }
    }
}
