/* wrap.h - turn payload lines into CloudEvents (cloudevent-wrap's engine),
 * and the per-line handlers for --validate and --unwrap.
 *
 * A wrapper is built once from the options (every check that does not
 * depend on a payload happens there, so a bad option is a usage error
 * before any input is read); wrapper_event() then appends one event line
 * per payload. The wrapper copies what it needs from the options; the
 * caller keeps ownership of its strings. wrapper_free() releases it.
 */
#ifndef WRAP_H
#define WRAP_H

#include <stddef.h>

#include "buf.h"
#include "diag.h"
#include "outbuf.h"

enum wrap_payload {
	WRAP_JSON = 0, /* each line a JSON value: "data" */
	WRAP_TEXT,     /* each line a UTF-8 string: "data", text/plain */
	WRAP_BASE64    /* each line raw bytes: "data_base64" */
};

typedef struct wrap_ext {
	const char *name;
	const char *value;
} wrap_ext;

typedef struct wrap_opts {
	const char *type;            /* required */
	const char *source;          /* required (--source or CE_SOURCE) */
	const char *subject;
	const char *dataschema;
	const char *datacontenttype; /* default by payload kind */
	const char *time;            /* fixed time; NULL = now per event */
	const wrap_ext *ext;
	size_t n_ext;
	const char *id_from;         /* JSON Pointers into the payload */
	const char *subject_from;
	const char *partition_key_from;
	const char *const *mask;
	size_t n_mask;
	enum wrap_payload payload;
	const char *traceparent;     /* usually getenv("TRACEPARENT") */
	const char *tracestate;      /* usually getenv("TRACESTATE") */
} wrap_opts;

typedef struct wrapper wrapper;

/* 0, or EXIT_USAGE with err set for a bad option (EXIT_SOFTWARE if out of
 * memory). Warnings (an invalid TRACEPARENT, which starts new traces) are
 * printed here. */
int wrapper_new(wrapper **w, const wrap_opts *o, errinfo *err);
/* Append the event for one payload line, with its newline, to out.
 * 0; EXIT_DATAERR with err set when the payload is bad (out unchanged);
 * EXIT_SOFTWARE when out of memory or the random source fails. */
int wrapper_event(wrapper *w, const char *payload, size_t len, buf *out, errinfo *err);
void wrapper_free(wrapper *w);

/* Per-line handlers for inputs_run() (inputs.h); ctx is a line_sink. */
typedef struct line_sink {
	outbuf *out;
	buf scratch;
	wrapper *w;   /* wrap mode only */
	int raw;      /* --unwrap --raw: data bytes as they are (base64 decoded, text with line breaks) */
} line_sink;

int wrap_line(void *sink, const char *line, size_t len, errinfo *err);
int validate_line(void *sink, const char *line, size_t len, errinfo *err);
int unwrap_line(void *sink, const char *line, size_t len, errinfo *err);

#endif
