/* The device side of the EEMBC / MLPerf Tiny DUT serial protocol, around the
 * generated model. Commands end with '%'; every reply ends with "m-ready".
 *
 *   name                  m-name-dut-[tinyflow]
 *   profile               m-profile-[...], m-model-[...]
 *   timestamp             m-lap-us-N
 *   db load N             m-[Expecting N bytes]        (input buffer for N bytes)
 *   db HEX                m-load-done when N bytes are in
 *   db print              m-buffer-xx-xx-...
 *   infer N W             N timed inferences after W warmups, then the results;
 *                         a byte other than a line end stops it between
 *                         inferences (send '%'): e-[infer interrupted after K of N
 *                         inferences]
 *   results               m-results-[f,f,...]          (dequantized outputs)
 * tinyflow extensions (prefix tf-):
 *   tf-load N             N raw input bytes follow the '%' (half the bytes of hex);
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
#include <stdint.h>
#include <string.h>

#include "tf_board.h"
#include "platform.h"
#include "tf_hooks.h"
#include "tf_model_info.h"

static const uint32_t input_bytes[TF_NUM_INPUTS] = TF_INPUT_BYTES;
static const uint32_t output_bytes[TF_NUM_OUTPUTS] = TF_OUTPUT_BYTES;
static const uint8_t output_is_int8[TF_NUM_OUTPUTS] = TF_OUTPUT_IS_INT8;
static const float output_scale[TF_NUM_OUTPUTS] = TF_OUTPUT_SCALES;
static const int32_t output_zero_point[TF_NUM_OUTPUTS] = TF_OUTPUT_ZERO_POINTS;

/* The host loads all inputs, concatenated, into this buffer ("db"); each inference
 * copies it into the arena, since layers may reuse the input's arena space. */
static uint8_t db_buffer[TF_INPUT_TOTAL_BYTES];
static uint32_t db_expected;
static uint32_t db_loaded;

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
    if (db_expected != TF_INPUT_TOTAL_BYTES || db_loaded != TF_INPUT_TOTAL_BYTES) {
        put_str("e-[no input loaded: send 'db load ");
        put_u64(TF_INPUT_TOTAL_BYTES);
        put_line("' and the bytes first]");
        return 0;
    }
    return 1;
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
    put_line("m-model-[" TF_MODEL_NAME "]");
}

static void command_timestamp(char **words, int count)
{
    (void)words;
    (void)count;
    put_str("m-lap-us-");
    put_u64(tf_counter_read() * 1000000u / TF_COUNTER_HZ);
    put_str("\r\n");
}

static void command_db(char **words, int count)
{
    uint32_t n;
    if (count < 2) {
        put_line("e-[Command 'db' requires a subcommand]");
    } else if (strcmp(words[1], "load") == 0) {
        if (count < 3 || !parse_u32(words[2], &n) || n == 0) {
            put_line("e-[Command 'db load' requires the # of bytes, >0]");
        } else if (n > TF_INPUT_TOTAL_BYTES) {
            db_expected = 0;
            db_loaded = 0;
            put_str("e-[db load ");
            put_u64(n);
            put_str(" exceeds the input buffer of ");
            put_u64(TF_INPUT_TOTAL_BYTES);
            put_line(" bytes]");
        } else {
            db_expected = n;
            db_loaded = 0;
            put_str("m-[Expecting ");
            put_u64(n);
            put_line(" bytes]");
        }
    } else if (strcmp(words[1], "print") == 0) {
        for (uint32_t i = 0; i < db_loaded; ++i) {
            if (i % 8u == 0) {
                put_str("m-buffer-");
            }
            put_hex8(db_buffer[i]);
            put_str((i + 1) % 8u == 0 || i + 1 == db_loaded ? "\r\n" : "-");
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
            db_buffer[db_loaded++] = (uint8_t)(high << 4 | low);
            if (db_loaded == db_expected) {
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
    db_expected = n;
    db_loaded = n;
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
    const uint64_t started = tf_counter_read();
    put_str("m-lap-us-");
    put_u64(started * 1000000u / TF_COUNTER_HZ);
    put_str("\r\n");
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
    const uint64_t ended = tf_counter_read();
    put_str("m-lap-us-");
    put_u64(ended * 1000000u / TF_COUNTER_HZ);
    put_str("\r\n");
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
