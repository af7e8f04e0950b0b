/* inputs.c - see inputs.h */
#include "inputs.h"
#include "exitcode.h"
#include "ndjson.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int on_error_parse(const char *s, enum on_error *out)
{
	if (!strcmp(s, "fail"))
		*out = ON_ERROR_FAIL;
	else if (!strcmp(s, "skip"))
		*out = ON_ERROR_SKIP;
	else
		return -1;
	return 0;
}

static int is_blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t')
			return 0;
	return 1;
}

/* Report a bad line; returns nonzero when the policy says stop. */
static int bad_line(inputs *in, ndjson_reader *r, const errinfo *err)
{
	in->bad++;
	if (!in->max_reported || in->bad <= in->max_reported)
		diag_input_error(ndjson_name(r), ndjson_lineno(r), "%s", err->text);
	return in->on_error == ON_ERROR_FAIL;
}

static void before_read(void *arg)
{
	inputs *in = arg;
	if (in->flush)
		(void)outbuf_flush(in->flush);
	if (in->before_read)
		in->before_read(in->before_read_arg);
}

static int run_one(inputs *in, const char *path, inputs_line_fn fn, void *ctx)
{
	errinfo err = {0};
	size_t max_line = in->max_line ? in->max_line : NDJSON_DEFAULT_MAX_LINE;
	ndjson_reader *r = ndjson_open(path, max_line, in->ndjson_flags, &err);
	if (!r) {
		diag_errinfo(&err);
		return err.code ? err.code : EXIT_IOERR;
	}
	ndjson_set_before_read(r, before_read, in);
	if (in->stop)
		ndjson_set_stop_flag(r, in->stop);
	snprintf(in->cur_name, sizeof in->cur_name, "%s", ndjson_name(r));
	in->cur_fd = ndjson_fd(r);
	int status = 0;
	while (!(in->stop && *in->stop)) {
		const char *line;
		size_t len;
		errinfo_clear(&err);
		int st = ndjson_next(r, &line, &len, &err);
		in->cur_line = ndjson_lineno(r);
		if (st == NDJSON_EOF)
			break;
		if (st == NDJSON_ERROR) {
			diag_errinfo(&err);
			status = err.code ? err.code : EXIT_IOERR;
			break;
		}
		if (st == NDJSON_TOO_LONG || st == NDJSON_BAD_UTF8) {
			if (bad_line(in, r, &err)) {
				status = EXIT_DATAERR;
				break;
			}
			continue;
		}
		if (in->skip_blank && is_blank(line, len))
			continue;
		in->lines++;
		int rc = fn(ctx, line, len, &err);
		if (rc == 0)
			continue;
		if (rc == INPUTS_STOP) {
			in->stopped = 1;
			break;
		}
		if (rc == EXIT_DATAERR) {
			if (bad_line(in, r, &err)) {
				status = EXIT_DATAERR;
				break;
			}
			continue;
		}
		diag_errinfo(&err);
		status = rc;
		break;
	}
	ndjson_close(r);
	return status;
}

int inputs_emit(outbuf *out, const void *p, size_t n, errinfo *err)
{
	if (outbuf_write(out, p, n) == 0)
		return 0;
	if (out->err == EPIPE)
		return INPUTS_STOP;
	return errinfo_set(err, EXIT_IOERR, "writing output: %s", outbuf_error_text(out));
}

int inputs_run(inputs *in, inputs_line_fn fn, void *ctx)
{
	in->lines = in->bad = 0;
	in->stopped = 0;
	int status;
	if (!in->files || in->nfiles == 0)
		status = run_one(in, "-", fn, ctx);
	else {
		status = 0;
		for (int i = 0; i < in->nfiles && status == 0 && !in->stopped &&
				!(in->stop && *in->stop); i++)
			status = run_one(in, in->files[i], fn, ctx);
	}
	if (status == 0 && in->bad)
		status = EXIT_DATAERR;
	return status;
}
