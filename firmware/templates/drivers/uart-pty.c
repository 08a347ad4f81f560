/* The native build's "UART": a pseudo-terminal this process opens, announced on
 * stdout the way QEMU announces -serial pty, so the same runner code finds it. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

static int pty_master = -1;
/* A byte tf_uart_rx_ready has already read, for tf_uart_getc (-1: none). */
static int peeked = -1;

void tf_uart_init(void)
{
    pty_master = posix_openpt(O_RDWR | O_NOCTTY);
    if (pty_master < 0 || grantpt(pty_master) != 0 || unlockpt(pty_master) != 0) {
        perror("tinyflow native firmware: cannot open a pseudo-terminal");
        exit(2);
    }
    struct termios mode;
    if (tcgetattr(pty_master, &mode) == 0) {
        cfmakeraw(&mode);
        tcsetattr(pty_master, TCSANOW, &mode);
    }
    printf("char device redirected to %s (label serial0)\n", ptsname(pty_master));
    fflush(stdout);
}

void tf_uart_putc(char c)
{
    while (write(pty_master, &c, 1) != 1) {
    }
}

/* poll() alone could report a closed terminal as readable; reading the byte ahead
 * makes "ready" mean a byte really is there. */
int tf_uart_rx_ready(void)
{
    if (peeked < 0) {
        struct pollfd waiting = { .fd = pty_master, .events = POLLIN, .revents = 0 };
        char c;
        if (poll(&waiting, 1, 0) == 1 && (waiting.revents & POLLIN)
            && read(pty_master, &c, 1) == 1) {
            peeked = (unsigned char)c;
        }
    }
    return peeked >= 0;
}

char tf_uart_getc(void)
{
    char c;
    if (peeked >= 0) {
        c = (char)peeked;
        peeked = -1;
        return c;
    }
    for (;;) {
        const ssize_t got = read(pty_master, &c, 1);
        if (got == 1) {
            return c;
        }
        if (got < 0) {
            usleep(1000);   /* EIO until the host opens the terminal's other side */
        }
    }
}
