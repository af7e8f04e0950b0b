/* inputs.h - run a per-line function over a list of input files.
 *
 * This is the loop every NDJSON-reading tool shares: open each file in
 * turn ("-" or none means stdin), read it with the bounded line reader,
 * report bad lines as "PROG: error: FILE:LINE: reason" and apply the
 * --on-error policy:
 *   fail  stop at the first bad line; the result is EXIT_DATAERR;
 *   skip  report each bad line, go on, and return EXIT_DATAERR at the end
 *         if any line was bad.
 * A missing or unreadable file is fatal (66, 77 or 74) under both policies:
 * it is not a bad line but a missing input.
 *
 * Nothing here allocates per line; the line handed to the callback is valid
 * only during the call.
 */
#ifndef INPUTS_H
#define INPUTS_H

#include <signal.h>
#include <stddef.h>

#include "diag.h"
#include "outbuf.h"

enum on_error { ON_ERROR_FAIL = 0, ON_ERROR_SKIP };

/* Parse "fail" or "skip"; 0 or -1. */
int on_error_parse(const char *s, enum on_error *out);

/* Per-line callback: return 0 when the line was handled, EXIT_DATAERR with
 * err->text set when the line is bad (the policy decides what follows),
 * INPUTS_STOP to stop quietly (the reader of our output went away), or any
 * other exit code to stop at once (err->text set). */
#define INPUTS_STOP (-1)
typedef int (*inputs_line_fn)(void *ctx, const char *line, size_t len, errinfo *err);

typedef struct inputs {
	char *const *files;   /* NULL or empty: stdin */
	int nfiles;
	size_t max_line;      /* 0: NDJSON_DEFAULT_MAX_LINE */
	unsigned ndjson_flags;
	enum on_error on_error;
	int skip_blank;       /* lines of only spaces/tabs are not handed over */
	outbuf *flush;        /* flushed before each blocking read, or NULL */
	/* Called before each read, after the flush; may poll cur_fd. */
	void (*before_read)(void *arg);
	void *before_read_arg;
	/* When *stop becomes nonzero (a signal handler sets it), lines already
	 * read are still handed over, then reading ends (see ndjson.h). */
	const volatile sig_atomic_t *stop;
	unsigned long max_reported; /* bad lines printed at most; 0: all */
	/* Filled in by inputs_run: */
	unsigned long lines;  /* lines handed to the callback */
	unsigned long bad;    /* bad lines (reported) */
	int stopped;          /* a callback returned INPUTS_STOP */
	char cur_name[256];   /* the input being read (or last read) */
	unsigned long cur_line;
	int cur_fd;           /* its descriptor, valid during callbacks */
} inputs;

/* Write one output line from a callback: 0; INPUTS_STOP when the reader of
 * our output went away (EPIPE: the normal end of a filter); EXIT_IOERR with
 * err set for any other write failure. */
int inputs_emit(outbuf *out, const void *p, size_t n, errinfo *err);

/* Returns 0, EXIT_DATAERR (bad lines, per the policy), or the fatal code of
 * the callback or the reader (the message has been printed). */
int inputs_run(inputs *in, inputs_line_fn fn, void *ctx);

#endif
