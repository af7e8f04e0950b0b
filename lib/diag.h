/* diag.h - diagnostics on stderr with fixed prefixes, shared by all tools.
 *
 *   PROG: error: MESSAGE
 *   PROG: warning: MESSAGE
 *   PROG: error: FILE:LINE: MESSAGE        (about input)
 *
 * Every function preserves errno. Messages never carry secrets: callers
 * must not pass configuration values that may hold them.
 * Messages are made safe for a terminal as they are written: control
 * bytes (C0, DEL), C1 control characters and bytes that are not valid
 * UTF-8 are shown as \xHH, so an argument or a file name can never send
 * escape sequences to the terminal. A backslash is written as it is.
 *
 * errinfo is how library functions report failure: they fill it and return
 * its code (an exitcode.h value); the caller decides whether and how to
 * print it. It owns no memory.
 */
#ifndef DIAG_H
#define DIAG_H

#include <stddef.h>

#if defined(__GNUC__)
#define DIAG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DIAG_PRINTF(a, b)
#endif

typedef struct errinfo {
	int code;        /* exitcode.h value; 0 = no error */
	char text[512];  /* the message, without prefix or newline */
} errinfo;

/* Fill err with code and a formatted message; return code. */
int errinfo_set(errinfo *err, int code, const char *fmt, ...) DIAG_PRINTF(3, 4);
/* Prepend "PREFIX: " to err's message (e.g. a file name); keeps code. */
void errinfo_prefix(errinfo *err, const char *fmt, ...) DIAG_PRINTF(2, 3);
void errinfo_clear(errinfo *err);

/* Verbosity: -1 quiet, 0 default, 1.. verbose. Set by the tool. */
extern int diag_verbosity;

/* Set the program name used as prefix (basename of argv0). */
void diag_init(const char *argv0);
const char *diag_prog(void);

void diag_error(const char *fmt, ...) DIAG_PRINTF(1, 2);
/* Warnings are suppressed by -q (diag_verbosity < 0); errors never are. */
void diag_warn(const char *fmt, ...) DIAG_PRINTF(1, 2);
/* Like diag_error, appending ": strerror(errno)". */
void diag_syserr(const char *fmt, ...) DIAG_PRINTF(1, 2);
/* "PROG: error: FILE:LINE: MESSAGE". line 0 omits ":LINE". */
void diag_input_error(const char *file, unsigned long line, const char *fmt, ...) DIAG_PRINTF(3, 4);
void diag_input_warn(const char *file, unsigned long line, const char *fmt, ...) DIAG_PRINTF(3, 4);
/* Informational note, suppressed by -q: "PROG: MESSAGE". */
void diag_info(const char *fmt, ...) DIAG_PRINTF(1, 2);
/* Only with -v: "PROG: debug: MESSAGE". */
void diag_debug(const char *fmt, ...) DIAG_PRINTF(1, 2);
/* A command-line argument or input value as messages show it: at most
 * its first 64 bytes (cut on a UTF-8 boundary) followed by "..." when it
 * is longer, so a huge argument is not repeated in full on every error
 * line. Writes into out, returns out. */
#define DIAG_ARG_MAX 72
const char *diag_arg(const char *s, char out[DIAG_ARG_MAX]);

/* Print err's message as an error. */
void diag_errinfo(const errinfo *err);

#endif
