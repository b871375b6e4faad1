/* password_input.c - reading a new password for `posthorn user add|passwd`. On a terminal
 * it is asked twice with echo off (read from /dev/tty, like getpass(3) but without its
 * obsolete static buffer); otherwise (or with --password-stdin) one line is read from
 * stdin. Buffers holding the password are wiped. */
#include "cli.h"
#include "mem.h"
#include <bsd/string.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define PASSWORD_MAX 1024

/* Read one line (without its end) from f into a fresh buffer; NULL at EOF or if too long. */
static char *read_line(FILE *f)
{
    char buf[PASSWORD_MAX + 2];
    if (!fgets(buf, sizeof buf, f))
        return NULL;
    size_t n = strlen(buf);
    bool complete = n > 0 && buf[n - 1] == '\n';
    if (!complete && !feof(f)) {
        explicit_bzero(buf, sizeof buf);
        cli_err("password longer than %d bytes", PASSWORD_MAX);
        return NULL;
    }
    buf[strcspn(buf, "\r\n")] = 0;
    char *s = xstrdup(buf);
    explicit_bzero(buf, sizeof buf);
    return s;
}

static char *prompt_tty(FILE *tty, const char *prompt)
{
    struct termios old, quiet;
    int fd = fileno(tty);
    if (tcgetattr(fd, &old) < 0)
        return NULL;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    fputs(prompt, tty);
    fflush(tty);
    if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0)
        return NULL;
    char *s = read_line(tty);
    tcsetattr(fd, TCSAFLUSH, &old);
    fputc('\n', tty);
    return s;
}

static char *ask_twice(void)
{
    FILE *tty = fopen("/dev/tty", "r+e");
    if (!tty) {
        cli_err("/dev/tty: %s", strerror(errno));
        return NULL;
    }
    char *a = prompt_tty(tty, "New password: ");
    char *b = a ? prompt_tty(tty, "Retype new password: ") : NULL;
    fclose(tty);
    if (a && b && strcmp(a, b) == 0) {
        explicit_bzero(b, strlen(b));
        free(b);
        return a;
    }
    if (a && b)
        cli_err("the passwords do not match");
    if (a)
        explicit_bzero(a, strlen(a)), free(a);
    if (b)
        explicit_bzero(b, strlen(b)), free(b);
    return NULL;
}

char *read_new_password(bool from_stdin)
{
    bool tty = !from_stdin && isatty(STDIN_FILENO);
    char *p = tty ? ask_twice() : read_line(stdin);
    if (p && *p == 0) {
        cli_err("empty password refused");
        free(p);
        return NULL;
    }
    if (!p && !tty && feof(stdin))
        cli_err("no password on standard input");
    return p;
}
