/* cli.h - start-up and option helpers every tool's main() shares.
 *
 * cli_start(): set the program name for diagnostics, make sure fds 0, 1 and
 * 2 are open (a tool started with one closed must not write data into a
 * file it opens later), and ignore SIGPIPE so a closed pipe downstream
 * shows up as EPIPE on write, which tools treat as a normal end.
 * A closed stdin or stdout is an error, not an empty input or a discarded
 * output: fd 0 gets /dev/null opened write-only and fd 1 /dev/null opened
 * read-only, so any read of stdin or write to stdout fails with EBADF
 * (ndjson_open() reports "standard input is closed", 66; writers report
 * the failed write, 74). A closed stderr gets a writable /dev/null.
 */
#ifndef CLI_H
#define CLI_H

#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "outbuf.h"

void cli_start(const char *argv0);

/* Print "PROG VERSION" on stdout (for -V/--version). */
void cli_version(void);

/* The long options every tool shares (see cli_common_option); ends a
 * struct option table, terminator included. */
#define CLI_COMMON_LONG_OPTIONS                       \
	{ "quiet", no_argument, NULL, 'q' },          \
	{ "verbose", no_argument, NULL, 'v' },        \
	{ "help", no_argument, NULL, 'h' },           \
	{ "version", no_argument, NULL, 'V' },        \
	{ NULL, 0, NULL, 0 }

/* The options every tool shares, for the default branch of a getopt loop:
 * -q and -v set diag_verbosity; -h prints usage and help on stdout and
 * exits 0; -V prints the version and exits 0; '?' (getopt has named the
 * bad option) prints the usage on stderr. Returns 0 when opt was handled,
 * EXIT_USAGE for '?' and for any option the tool did not handle. */
int cli_common_option(int opt, const char *usage, const char *help);

/* "PROG: error: MESSAGE" then the usage on stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* "PROG: error: WHY: ARG" (ARG with control bytes escaped and shortened,
 * as diag_arg does: an option value is user input and may hold anything)
 * or "PROG: error: WHY" when arg is NULL, then the usage; EXIT_USAGE. */
int cli_bad_value(const char *usage, const char *why, const char *arg);

/* The daemons' stop flag: 0 until SIGINT or SIGTERM arrives, then the
 * signal's number. cli_catch_stop() installs the handler without
 * SA_RESTART, so a blocking wait returns early and its loop sees it. */
extern volatile sig_atomic_t cli_stop;
void cli_catch_stop(void);

/* Parse a byte size: decimal digits with an optional K, M or G suffix
 * (binary multiples). 0 on success, -1 if not a size or over max. */
int cli_parse_size(const char *s, size_t max, size_t *out);
/* Parse a non-negative integer no larger than max. 0 or -1. */
int cli_parse_uint(const char *s, uint64_t max, uint64_t *out);
/* Parse a duration: a number with an optional unit ms, s (default), m, h,
 * d. Result in milliseconds. 0 or -1. */
int cli_parse_duration_ms(const char *s, uint64_t *ms);
/* The same, bounded to INT_MAX seconds: the timeouts and intervals the
 * daemons keep in int-sized fields and librdkafka properties. 0 or -1. */
int cli_parse_timeout_ms(const char *s, uint64_t *ms);

/* Parse "MIN,MAX" durations (as cli_parse_duration_ms) with
 * 0 < MIN <= MAX, for --backoff. 0 or -1. */
int cli_parse_backoff(const char *s, uint64_t *min_ms, uint64_t *max_ms);
/* Finish with stdout: flush o, close it, report a write error. Returns
 * status unchanged when all went well; EXIT_IOERR after printing an error
 * when the write failed (EPIPE counts as success: the reader went away). */
int cli_finish_output(outbuf *o, int status);

#endif
