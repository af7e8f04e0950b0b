/* wrap.c - see wrap.h
 *
 * Speed: cloudevent-wrap must stay an order of magnitude ahead of jq, so
 * the per-event path does no allocation and no tree building: the payload
 * is validated by the scanner, every attribute that does not change per
 * event is encoded once in wrapper_new(), and the event is assembled by
 * appending spans to one reused buffer.
 */
#include "wrap.h"
#include "base64.h"
#include "cloudevent.h"
#include "exitcode.h"
#include "inputs.h"
#include "json.h"
#include "timefmt.h"
#include "traceparent.h"
#include "utf8.h"
#include "uuid7.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRAP_MAX_EXT 64

enum ext_kind {
	EXT_STATIC,        /* text holds ,"name":"value" */
	EXT_PARTITION_KEY, /* from the payload by --partition-key-from */
	EXT_TRACEPARENT    /* a new root trace per event */
};

struct wrap_ext_slot {
	char name[64];
	enum ext_kind kind;
	buf text;
};

struct wrapper {
	enum wrap_payload payload;
	buf head;   /* {"specversion":"1.0","id": */
	buf mid;    /* ,"source":...,"type":...[,"subject":...] (static part) */
	buf tail;   /* [,"datacontenttype":...][,"dataschema":...] */
	buf time;   /* fixed "time" token, or empty for now */
	char *id_from, *subject_from, *pk_from;
	/* the pointers as messages show them (diag_arg) */
	char id_disp[DIAG_ARG_MAX], subject_disp[DIAG_ARG_MAX], pk_disp[DIAG_ARG_MAX];
	char **mask;
	size_t n_mask;
	struct span_range *ranges; /* apply_masks' scratch, grown as needed */
	size_t ranges_cap;
	struct wrap_ext_slot ext[WRAP_MAX_EXT];
	size_t n_ext;
	buf masked; /* scratch for masked data */
};

#define ENC_MAX (16u << 20)

typedef struct span_range {
	size_t start, end;
} span_range;

static int add_attr(buf *b, const char *name, const char *value)
{
	if (buf_printf(b, ",\"%s\":", name) != 0)
		return -1;
	return json_string_encode(b, value, strlen(value));
}

/* A usage error quoting arg, shortened (diag_arg) so that a huge argument
 * does not crowd out the reason. */
static int usage(errinfo *err, const char *fmt, const char *arg)
{
	char a[DIAG_ARG_MAX];
	return errinfo_set(err, EXIT_USAGE, fmt, diag_arg(arg, a));
}

/* Option strings become JSON strings and CloudEvents Strings: valid UTF-8
 * without control characters or noncharacters, or --validate and
 * outbox-enqueue would refuse every event written. */
static int check_text(const char *what, const char *s, errinfo *err)
{
	if (!s)
		return 0;
	if (!*s)
		return errinfo_set(err, EXIT_USAGE, "%s must not be empty", what);
	size_t n = strlen(s), bad = ce_string_invalid_at(s, n);
	if (bad == n)
		return 0;
	if (!utf8_valid(s, n) && bad == utf8_valid_prefix(s, n))
		return errinfo_set(err, EXIT_USAGE, "%s is not valid UTF-8 (at byte %zu)", what, bad + 1);
	return errinfo_set(err, EXIT_USAGE,
			   "%s holds a control character or noncharacter at byte %zu", what, bad + 1);
}

static int check_pointer(const char *opt, const char *ptr, enum wrap_payload kind, errinfo *err)
{
	if (!ptr)
		return 0;
	if (kind != WRAP_JSON)
		return usage(err, "%s needs JSON payloads (not --text or --base64)", opt);
	if (json_pointer_check(ptr) != 0) {
		char a[DIAG_ARG_MAX];
		return errinfo_set(err, EXIT_USAGE, "%s: '%s' is not a JSON Pointer (RFC 6901)", opt,
				   diag_arg(ptr, a));
	}
	return 0;
}

/* A URI for dataschema must at least carry a scheme (RFC 3986). */
static int has_scheme(const char *s)
{
	const char *p = s;
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return 0;
	while (*p && *p != ':') {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.'))
			return 0;
		p++;
	}
	return *p == ':';
}

static struct wrap_ext_slot *ext_slot(wrapper *w, const char *name, errinfo *err)
{
	for (size_t i = 0; i < w->n_ext; i++)
		if (!strcmp(w->ext[i].name, name)) {
			errinfo_set(err, EXIT_USAGE, "extension '%s' given twice", name);
			return NULL;
		}
	if (w->n_ext >= WRAP_MAX_EXT) {
		errinfo_set(err, EXIT_USAGE, "too many extensions (at most %d)", WRAP_MAX_EXT);
		return NULL;
	}
	struct wrap_ext_slot *s = &w->ext[w->n_ext++];
	snprintf(s->name, sizeof s->name, "%s", name);
	buf_init(&s->text, ENC_MAX);
	s->kind = EXT_STATIC;
	return s;
}

static int ext_cmp(const void *a, const void *b)
{
	return strcmp(((const struct wrap_ext_slot *)a)->name, ((const struct wrap_ext_slot *)b)->name);
}

static int setup_trace(wrapper *w, const wrap_opts *o, int have_tp_ext, int have_ts_ext, errinfo *err)
{
	if (have_tp_ext)
		return 0;
	traceparent tp;
	int from_env = 0;
	if (o->traceparent && *o->traceparent) {
		if (traceparent_parse(&tp, o->traceparent, strlen(o->traceparent)) == 0)
			from_env = 1;
		else
			diag_warn("TRACEPARENT is not a valid W3C traceparent; starting new traces");
	}
	struct wrap_ext_slot *s = ext_slot(w, "traceparent", err);
	if (!s)
		return err->code;
	if (!from_env) {
		s->kind = EXT_TRACEPARENT;
		return 0;
	}
	char text[TRACEPARENT_LEN + 1];
	traceparent_format(&tp, text);
	if (add_attr(&s->text, "traceparent", text) != 0)
		return errinfo_set(err, EXIT_SOFTWARE, "out of memory");
	/* tracestate travels only with the traceparent it belongs to. */
	if (!have_ts_ext && o->tracestate && *o->tracestate) {
		if (tracestate_check(o->tracestate, strlen(o->tracestate)) != 0) {
			diag_warn("TRACESTATE is not a valid W3C tracestate; leaving it out");
			return 0;
		}
		struct wrap_ext_slot *ts = ext_slot(w, "tracestate", err);
		if (!ts)
			return err->code;
		if (add_attr(&ts->text, "tracestate", o->tracestate) != 0)
			return errinfo_set(err, EXIT_SOFTWARE, "out of memory");
	}
	return 0;
}

static int setup_exts(wrapper *w, const wrap_opts *o, errinfo *err)
{
	int have_tp = 0, have_ts = 0;
	for (size_t i = 0; i < o->n_ext; i++) {
		const char *name = o->ext[i].name, *value = o->ext[i].value;
		if (!ce_extension_name_valid(name, strlen(name)))
			return usage(err,
				     "-e %s: extension names are lowercase letters and digits, "
				     "and not a CloudEvents attribute name", name);
		char what[DIAG_ARG_MAX + 16];
		snprintf(what, sizeof what, "-e %s value", name);
		if (check_text(what, value, err) != 0)
			return err->code;
		if (!strcmp(name, "partitionkey") && o->partition_key_from)
			return usage(err, "%s", "-e partitionkey conflicts with --partition-key-from");
		if (!strcmp(name, "traceparent")) {
			traceparent tp;
			if (traceparent_parse(&tp, value, strlen(value)) != 0)
				return usage(err, "-e traceparent=%s: not a valid W3C traceparent", value);
			have_tp = 1;
		}
		if (!strcmp(name, "tracestate")) {
			if (tracestate_check(value, strlen(value)) != 0)
				return usage(err, "-e tracestate=%s: not a valid W3C tracestate", value);
			have_ts = 1;
		}
		struct wrap_ext_slot *s = ext_slot(w, name, err);
		if (!s)
			return err->code;
		if (add_attr(&s->text, name, value) != 0)
			return errinfo_set(err, EXIT_SOFTWARE, "out of memory");
	}
	if (o->partition_key_from) {
		struct wrap_ext_slot *s = ext_slot(w, "partitionkey", err);
		if (!s)
			return err->code;
		s->kind = EXT_PARTITION_KEY;
	}
	if (setup_trace(w, o, have_tp, have_ts, err) != 0)
		return err->code;
	/* Canonical order: extensions sorted by name (cloudevent.h). */
	qsort(w->ext, w->n_ext, sizeof w->ext[0], ext_cmp);
	return 0;
}

/* Everything wrap writes must pass --validate. The options were checked
 * one by one above; this parses a sample event built from the very bytes
 * every event will carry (placeholders for id, time and payload-derived
 * values), so no combination slips through: a failure is a usage error
 * naming the attribute. */
static int self_check(wrapper *w, errinfo *err)
{
	buf b;
	buf_init(&b, 4 * ENC_MAX);
	int rc = 0;
	if (buf_append(&b, w->head.data, w->head.len) || buf_puts(&b, "\"0\"") ||
	    buf_append(&b, w->mid.data, w->mid.len) || buf_puts(&b, ",\"time\":") ||
	    (w->time.len ? buf_append(&b, w->time.data, w->time.len)
			 : buf_puts(&b, "\"2000-01-01T00:00:00Z\"")) ||
	    buf_append(&b, w->tail.data, w->tail.len)) {
		rc = errinfo_set(err, EXIT_SOFTWARE, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < w->n_ext; i++)
		if (w->ext[i].kind == EXT_STATIC && buf_append(&b, w->ext[i].text.data, w->ext[i].text.len)) {
			rc = errinfo_set(err, EXIT_SOFTWARE, "out of memory");
			goto done;
		}
	if (buf_putc(&b, '}')) {
		rc = errinfo_set(err, EXIT_SOFTWARE, "out of memory");
		goto done;
	}
	cloudevent ev;
	if (ce_parse_line(&ev, b.data, b.len, err) != 0)
		rc = err->code = EXIT_USAGE;
done:
	buf_free(&b);
	return rc;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int wrapper_new(wrapper **out, const wrap_opts *o, errinfo *err)
{
	*out = NULL;
	if (!o->type)
		return usage(err, "%s", "--type is required");
	if (!o->source)
		return usage(err, "%s", "--source is required (or set CE_SOURCE)");
	if (check_text("--type", o->type, err) || check_text("--source", o->source, err) ||
	    check_text("--subject", o->subject, err) || check_text("--dataschema", o->dataschema, err) ||
	    check_text("--datacontenttype", o->datacontenttype, err))
		return err->code;
	if (o->subject && o->subject_from)
		return usage(err, "%s", "--subject and --subject-from exclude each other");
	if (o->dataschema && !has_scheme(o->dataschema))
		return usage(err, "--dataschema %s: not an absolute URI", o->dataschema);
	if (o->time && rfc3339_check(o->time, strlen(o->time)) != 0)
		return usage(err, "--time %s: not an RFC 3339 timestamp", o->time);
	if (check_pointer("--id-from", o->id_from, o->payload, err) ||
	    check_pointer("--subject-from", o->subject_from, o->payload, err) ||
	    check_pointer("--partition-key-from", o->partition_key_from, o->payload, err))
		return err->code;
	for (size_t i = 0; i < o->n_mask; i++)
		if (check_pointer("--mask", o->mask[i], o->payload, err))
			return err->code;

	const char *ct = o->datacontenttype;
	if (!ct)
		ct = o->payload == WRAP_JSON ? "application/json"
		   : o->payload == WRAP_TEXT ? "text/plain" : "application/octet-stream";
	int ct_json = ce_content_type_is_json(ct, strlen(ct));
	if (o->payload == WRAP_JSON && !ct_json)
		return usage(err, "--datacontenttype %s is not a JSON type; use --text or --base64", ct);
	if (o->payload == WRAP_TEXT && ct_json)
		return usage(err, "--text with --datacontenttype %s: a JSON type needs JSON payloads", ct);

	wrapper *w = calloc(1, sizeof *w);
	if (!w)
		return errinfo_set(err, EXIT_SOFTWARE, "out of memory");
	w->payload = o->payload;
	buf_init(&w->head, ENC_MAX);
	buf_init(&w->mid, ENC_MAX);
	buf_init(&w->tail, ENC_MAX);
	buf_init(&w->time, 256);
	buf_init(&w->masked, ENC_MAX);
	int rc = EXIT_SOFTWARE;
	if (buf_puts(&w->head, "{\"specversion\":\"1.0\",\"id\":") != 0 ||
	    add_attr(&w->mid, "source", o->source) != 0 || add_attr(&w->mid, "type", o->type) != 0 ||
	    (o->subject && add_attr(&w->mid, "subject", o->subject) != 0) ||
	    add_attr(&w->tail, "datacontenttype", ct) != 0 ||
	    (o->dataschema && add_attr(&w->tail, "dataschema", o->dataschema) != 0) ||
	    (o->time && json_string_encode(&w->time, o->time, strlen(o->time)) != 0)) {
		errinfo_set(err, rc, "out of memory");
		goto fail;
	}
	w->id_from = dup_or_null(o->id_from);
	w->subject_from = dup_or_null(o->subject_from);
	w->pk_from = dup_or_null(o->partition_key_from);
	if (o->n_mask) {
		w->mask = calloc(o->n_mask, sizeof *w->mask);
		if (!w->mask) {
			errinfo_set(err, rc, "out of memory");
			goto fail;
		}
		for (size_t i = 0; i < o->n_mask; i++)
			if (!(w->mask[w->n_mask++] = strdup(o->mask[i]))) {
				errinfo_set(err, rc, "out of memory");
				goto fail;
			}
	}
	if ((o->id_from && !w->id_from) || (o->subject_from && !w->subject_from) ||
	    (o->partition_key_from && !w->pk_from)) {
		errinfo_set(err, rc, "out of memory");
		goto fail;
	}
	if (w->id_from)
		diag_arg(w->id_from, w->id_disp);
	if (w->subject_from)
		diag_arg(w->subject_from, w->subject_disp);
	if (w->pk_from)
		diag_arg(w->pk_from, w->pk_disp);
	if ((rc = setup_exts(w, o, err)) != 0)
		goto fail;
	if ((rc = self_check(w, err)) != 0)
		goto fail;
	*out = w;
	return 0;
fail:
	wrapper_free(w);
	return err->code ? err->code : rc;
}

void wrapper_free(wrapper *w)
{
	if (!w)
		return;
	buf_free(&w->head);
	buf_free(&w->mid);
	buf_free(&w->tail);
	buf_free(&w->time);
	buf_free(&w->masked);
	for (size_t i = 0; i < w->n_ext; i++)
		buf_free(&w->ext[i].text);
	for (size_t i = 0; i < w->n_mask; i++)
		free(w->mask[i]);
	free(w->mask);
	free(w->ranges);
	free(w->id_from);
	free(w->subject_from);
	free(w->pk_from);
	free(w);
}

struct first_match {
	json_span v;
	enum json_type t;
	long n;
};

static int note_match(void *ctx, json_span v, enum json_type t)
{
	struct first_match *m = ctx;
	if (m->n++ == 0) {
		m->v = v;
		m->t = t;
	}
	return 0;
}

/* Append the value at ptr in the payload as a JSON string token: strings
 * are copied as their token, numbers are quoted. The value must be one a
 * CloudEvents String may hold, and the only one ptr can mean: with
 * duplicate keys on the path, readers that keep the first member and
 * readers that keep the last would disagree on the attribute. */
static int from_pointer(json_span data, const char *opt, const char *ptr, const char *disp,
			buf *out, errinfo *err)
{
	struct first_match m = { { NULL, 0 }, JSON_INVALID, 0 };
	json_pointer_each(data, ptr, note_match, &m);
	if (m.n == 0)
		return errinfo_set(err, EXIT_DATAERR, "%s %s: no such value in the payload", opt, disp);
	if (m.n > 1)
		return errinfo_set(err, EXIT_DATAERR,
				   "%s %s: the payload has duplicate keys there (%ld values): ambiguous",
				   opt, disp, m.n);
	json_span v = m.v;
	if (m.t == JSON_STRING) {
		if (v.n <= 2)
			return errinfo_set(err, EXIT_DATAERR, "%s %s: the value is an empty string", opt, disp);
		if (!ce_string_token_valid(v))
			return errinfo_set(err, EXIT_DATAERR,
					   "%s %s: the value holds a control character or noncharacter",
					   opt, disp);
		return buf_append(out, v.p, v.n) ? EXIT_SOFTWARE : 0;
	}
	if (m.t == JSON_NUMBER) {
		if (buf_putc(out, '"') || buf_append(out, v.p, v.n) || buf_putc(out, '"'))
			return EXIT_SOFTWARE;
		return 0;
	}
	return errinfo_set(err, EXIT_DATAERR, "%s %s: the value is not a string or a number", opt, disp);
}

static int range_cmp(const void *a, const void *b)
{
	const span_range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

struct mask_walk {
	wrapper *w;
	json_span data;
	size_t n;
};

static int add_range(void *ctx, json_span v, enum json_type t)
{
	(void)t;
	struct mask_walk *m = ctx;
	wrapper *w = m->w;
	if (m->n == w->ranges_cap) {
		size_t cap = w->ranges_cap ? 2 * w->ranges_cap : 16;
		span_range *r = realloc(w->ranges, cap * sizeof *r);
		if (!r)
			return -1;
		w->ranges = r;
		w->ranges_cap = cap;
	}
	size_t start = (size_t)(v.p - m->data.p);
	w->ranges[m->n++] = (span_range){ start, start + v.n };
	return 0;
}

/* Replace each masked value with "***": every value a mask can mean, so
 * duplicate keys anywhere on its path are all masked (a reader that keeps
 * the last duplicate must not see the secret). Masks that are not in the
 * payload mask nothing; a mask inside another masked value is already
 * covered. The range list lives in the wrapper and only grows, so the
 * usual event allocates nothing. */
static int apply_masks(wrapper *w, json_span data, json_span *result)
{
	struct mask_walk m = { w, data, 0 };
	for (size_t i = 0; i < w->n_mask; i++)
		if (json_pointer_each(data, w->mask[i], add_range, &m) == -2)
			return -1;
	if (m.n == 0) {
		*result = data;
		return 0;
	}
	span_range *r = w->ranges;
	size_t n = m.n;
	qsort(r, n, sizeof r[0], range_cmp);
	buf_reset(&w->masked);
	size_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		if (r[i].start < pos)
			continue; /* nested in the previous masked value */
		if (buf_append(&w->masked, data.p + pos, r[i].start - pos) ||
		    buf_append(&w->masked, "\"***\"", 5))
			return -1;
		pos = r[i].end;
	}
	if (buf_append(&w->masked, data.p + pos, data.n - pos))
		return -1;
	*result = (json_span){ w->masked.data, w->masked.len };
	return 0;
}

static int append_data(wrapper *w, json_span data, buf *out)
{
	if (w->n_mask && apply_masks(w, data, &data) != 0)
		return -1;
	if (buf_append(out, ",\"data\":", 8))
		return -1;
	if (json_is_compact(data))
		return buf_append(out, data.p, data.n);
	return json_compact(data, out);
}

int wrapper_event(wrapper *w, const char *payload, size_t len, buf *out, errinfo *err)
{
	size_t mark = out->len;
	json_span data = { payload, len };
	int rc = 0;

	if (w->payload == WRAP_JSON) {
		enum json_type t;
		json_error jerr = {0};
		if (json_parse_value(payload, len, &data, &t, &jerr) != 0)
			return errinfo_set(err, EXIT_DATAERR, "payload is not valid JSON: %s at byte %zu",
					   jerr.what ? jerr.what : "syntax error", jerr.offset + 1);
		/* CloudEvents reads "data":null as "no data": the payload would
		 * be lost on the way (--validate drops it, --unwrap prints an
		 * empty line), so it is refused rather than changed. */
		if (t == JSON_NULL)
			return errinfo_set(err, EXIT_DATAERR,
					   "payload is null, which a CloudEvent cannot carry as data "
					   "(\"data\":null means no data)");
	} else if (w->payload == WRAP_TEXT) {
		size_t ok = utf8_valid_prefix(payload, len);
		if (ok != len)
			return errinfo_set(err, EXIT_DATAERR,
					   "payload is not valid UTF-8 at byte %zu (use --base64 for binary data)",
					   ok + 1);
	}

	if (buf_append(out, w->head.data, w->head.len))
		goto oom;
	if (w->id_from) {
		if ((rc = from_pointer(data, "--id-from", w->id_from, w->id_disp, out, err)) != 0)
			goto fail;
	} else {
		char id[UUID_STR_LEN + 3];
		id[0] = '"';
		if (uuid7_generate(id + 1) != 0)
			goto rnd;
		id[UUID_STR_LEN + 1] = '"';
		if (buf_append(out, id, UUID_STR_LEN + 2))
			goto oom;
	}
	if (buf_append(out, w->mid.data, w->mid.len))
		goto oom;
	if (w->subject_from) {
		if (buf_append(out, ",\"subject\":", 11))
			goto oom;
		if ((rc = from_pointer(data, "--subject-from", w->subject_from, w->subject_disp, out, err)) != 0)
			goto fail;
	}
	if (buf_append(out, ",\"time\":", 8))
		goto oom;
	if (w->time.len) {
		if (buf_append(out, w->time.data, w->time.len))
			goto oom;
	} else {
		char now[TIMEFMT_MICROS_LEN + 3];
		now[0] = '"';
		rfc3339_format_us(timefmt_now_us(), now + 1);
		now[TIMEFMT_MICROS_LEN + 1] = '"';
		if (buf_append(out, now, TIMEFMT_MICROS_LEN + 2))
			goto oom;
	}
	if (buf_append(out, w->tail.data, w->tail.len))
		goto oom;
	for (size_t i = 0; i < w->n_ext; i++) {
		struct wrap_ext_slot *s = &w->ext[i];
		if (s->kind == EXT_STATIC) {
			if (buf_append(out, s->text.data, s->text.len))
				goto oom;
		} else if (s->kind == EXT_PARTITION_KEY) {
			if (buf_append(out, ",\"partitionkey\":", 16))
				goto oom;
			if ((rc = from_pointer(data, "--partition-key-from", w->pk_from, w->pk_disp, out, err)) != 0)
				goto fail;
		} else {
			traceparent tp;
			char text[TRACEPARENT_LEN + 1];
			if (traceparent_new_root(&tp) != 0)
				goto rnd;
			traceparent_format(&tp, text);
			if (buf_append(out, ",\"traceparent\":\"", 16) ||
			    buf_append(out, text, TRACEPARENT_LEN) || buf_putc(out, '"'))
				goto oom;
		}
	}
	if (w->payload == WRAP_BASE64) {
		if (buf_append(out, ",\"data_base64\":\"", 16) || base64_encode(out, payload, len) ||
		    buf_putc(out, '"'))
			goto oom;
	} else if (w->payload == WRAP_TEXT) {
		if (buf_append(out, ",\"data\":", 8) || json_string_encode(out, payload, len))
			goto oom;
	} else if (append_data(w, data, out) != 0)
		goto oom;
	if (buf_append(out, "}\n", 2))
		goto oom;
	return 0;
oom:
	rc = errinfo_set(err, EXIT_DATAERR, "event too large or out of memory");
	goto fail;
rnd:
	rc = errinfo_set(err, EXIT_SOFTWARE, "cannot read random bytes from the operating system");
fail:
	out->len = mark;
	if (out->data)
		out->data[mark] = '\0';
	if (rc == EXIT_SOFTWARE && !err->text[0])
		errinfo_set(err, rc, "out of memory");
	return rc;
}

static int emit(line_sink *s, errinfo *err)
{
	return inputs_emit(s->out, s->scratch.data, s->scratch.len, err);
}

int wrap_line(void *sink, const char *line, size_t len, errinfo *err)
{
	line_sink *s = sink;
	buf_reset(&s->scratch);
	int rc = wrapper_event(s->w, line, len, &s->scratch, err);
	return rc ? rc : emit(s, err);
}

int validate_line(void *sink, const char *line, size_t len, errinfo *err)
{
	line_sink *s = sink;
	cloudevent ev;
	int rc = ce_parse_line(&ev, line, len, err);
	if (rc)
		return rc;
	buf_reset(&s->scratch);
	if (ce_write_json(&ev, &s->scratch) != 0 || buf_putc(&s->scratch, '\n') != 0)
		return errinfo_set(err, EXIT_DATAERR, "event too large or out of memory");
	return emit(s, err);
}

int unwrap_line(void *sink, const char *line, size_t len, errinfo *err)
{
	line_sink *s = sink;
	cloudevent ev;
	int rc = ce_parse_line(&ev, line, len, err);
	if (rc)
		return rc;
	buf_reset(&s->scratch);
	int fail;
	if (ev.data_kind == CE_DATA_BASE64 && !s->raw)
		/* Without --raw the base64 text itself: output stays line-safe. */
		fail = buf_append(&s->scratch, ev.data.p + 1, ev.data.n - 2);
	else
		fail = ce_data_bytes(&ev, &s->scratch);
	if (fail)
		return errinfo_set(err, EXIT_DATAERR, "event too large or out of memory");
	/* One output line per event: text data with a line break would come
	 * out as two lines (or lose its CR to the next reader). JSON data is
	 * compact and base64 text has none, so only decoded text can. */
	if (!s->raw && s->scratch.len &&
	    (memchr(s->scratch.data, '\n', s->scratch.len) ||
	     s->scratch.data[s->scratch.len - 1] == '\r'))
		return errinfo_set(err, EXIT_DATAERR,
				   "data: text holds a line break, which would split the output line "
				   "(--raw prints it as it is)");
	if (buf_putc(&s->scratch, '\n') != 0)
		return errinfo_set(err, EXIT_DATAERR, "event too large or out of memory");
	return emit(s, err);
}
