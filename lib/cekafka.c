/* cekafka.c - see cekafka.h */
#include "cekafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "exitcode.h"
#include "json.h"
#include "strscan.h"
#include "utf8.h"

/* ---- small helpers ---- */

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* 1 if s[0..n) equals the lower-case literal lit, ignoring ASCII case. */
static int ieq(const char *s, size_t n, const char *lit)
{
	size_t m = strlen(lit);
	if (n != m)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)s[i]) != lit[i])
			return 0;
	return 1;
}

/* 1 if s[0..n) starts with the lower-case literal lit, ignoring case. */
static int iprefix(const char *s, size_t n, const char *lit)
{
	size_t m = strlen(lit);
	return n >= m && ieq(s, m, lit);
}

static int eq(const char *s, size_t n, const char *lit)
{
	size_t m = strlen(lit);
	return n == m && memcmp(s, lit, m) == 0;
}

/* A content type's media type starts with text/ (after blanks). */
static int ct_is_text(const char *ct, size_t n)
{
	while (n && (*ct == ' ' || *ct == '\t'))
		ct++, n--;
	return iprefix(ct, n, "text/");
}

/* A wire name made safe for a message: at most 63 bytes, control
 * characters and bytes >= 0x7F shown as '?'. */
static const char *safe(const char *s, size_t n, char out[64])
{
	size_t k = 0;
	for (; k < n && k < 63; k++) {
		unsigned char c = (unsigned char)s[k];
		out[k] = c < 0x20 || c >= 0x7F ? '?' : (char)c;
	}
	out[k] = '\0';
	return out;
}

/* ---- encode ---- */

static const char *const core_name[8] = {
	"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema",
};
static const unsigned char core_name_len[8] = { 11, 2, 6, 4, 7, 4, 15, 10 };
#define HDR(s) {s, sizeof s - 1}
static const struct {
	const char *name;
	size_t len;
} core_header[8] = {
	HDR("ce_specversion"), HDR("ce_id"),   HDR("ce_source"),    HDR("ce_type"),
	HDR("ce_subject"),     HDR("ce_time"), HDR("content-type"), HDR("ce_dataschema"),
};
#undef HDR

/* The decoded text of a validated attribute token: a span of the event for
 * plain strings and other types, else decoded into scratch (which has room:
 * the caller reserved it, so data never moves). plain: the caller knows the
 * event holds no backslash at all, which saves a look at each token. */
static inline void attr_text(json_span v, enum json_type t, int plain, buf *scratch,
			     const char **p, size_t *n)
{
	if (t != JSON_STRING) {
		*p = v.p;
		*n = v.n;
		return;
	}
	if (plain || json_string_is_plain(v)) {
		*p = v.p + 1;
		*n = v.n - 2;
		return;
	}
	char *d = scratch->data + scratch->len;
	size_t k = json_string_decode_fixed(v, d, scratch->cap - scratch->len);
	/* cannot fail: a decoded string is shorter than its token */
	if (k == (size_t)-1)
		k = 0;
	scratch->len += k;
	*p = d;
	*n = k;
}

static void add_header(cekafka_msg *m, const char *name, size_t name_len, const char *v, size_t vn)
{
	cekafka_header *h = &m->h[m->n_headers++];
	h->name = name;
	h->name_len = name_len;
	h->value = v;
	h->value_len = vn;
}

/* The binary-mode value: see cekafka.h. */
static int data_value(cekafka_msg *m, const cloudevent *ev, const char *ct, size_t ct_len,
		      int plain, buf *scratch)
{
	static const char empty[1] = "";
	if (ev->data_kind == CE_DATA_NONE)
		return 0;
	size_t at = scratch->len;
	if (ev->data_kind == CE_DATA_BASE64) {
		if (base64_decode(scratch, ev->data.p + 1, ev->data.n - 2) != 0)
			return -1;
		m->value = scratch->len > at ? scratch->data + at : empty;
		m->value_len = scratch->len - at;
		return 0;
	}
	if (ev->data_type == JSON_STRING && !ce_content_type_is_json(ct, ct_len)) {
		const char *p;
		size_t n;
		attr_text(ev->data, JSON_STRING, plain, scratch, &p, &n);
		m->value = n ? p : empty;
		m->value_len = n;
		return 0;
	}
	if (ev->data_compact.p == ev->data.p && ev->data_compact.n == ev->data.n) {
		m->value = ev->data.p;
		m->value_len = ev->data.n;
		return 0;
	}
	if (json_compact(ev->data, scratch) != 0)
		return -1;
	m->value = scratch->data + at;
	m->value_len = scratch->len - at;
	return 0;
}

int cekafka_encode(cekafka_msg *m, const char *event, size_t len, enum cekafka_mode mode,
		   buf *scratch, errinfo *err)
{
	cloudevent ev;
	m->n_headers = 0;
	m->value = NULL;
	m->value_len = 0;
	m->key = m->traceparent = m->tracestate = m->type = m->id = m->source = NULL;
	m->key_len = m->traceparent_len = m->tracestate_len = m->type_len = m->id_len =
		m->source_len = 0;
	m->hop_traceparent[0] = '\0';
	m->checked_traceparent = m->checked_tracestate = NULL;
	m->checked_traceparent_len = m->checked_tracestate_len = 0;
	m->mode = mode;

	int r = ce_parse_line(&ev, event, len, err);
	if (r != 0)
		return r;
	/* Everything written to scratch fits in this (decoded strings are
	 * shorter than their tokens, "ce_" + name is one byte longer than the
	 * quoted name, a canonical copy is no longer than the input), so
	 * scratch never moves while pointers into it are handed out. */
	buf_reset(scratch);
	if (buf_reserve(scratch, 2 * len + CE_MAX_EXTENSIONS + 16) != 0)
		return errinfo_set(err, EXIT_SOFTWARE, "event of %zu bytes: scratch buffer cannot grow", len);
	const char *base = scratch->data;
	/* Events rarely hold an escape: one vector scan over the whole text
	 * replaces a look at every string token. */
	int plain = memchr(event, '\\', len) == NULL;

	const ce_attr *core[8] = {&ev.specversion, &ev.id, &ev.source, &ev.type,
				  &ev.subject, &ev.time, &ev.datacontenttype, &ev.dataschema};
	const char *text[8];
	size_t text_len[8];
	/* type and datacontenttype first: they decide the mode, and
	 * structured mode needs no other attribute decoded */
	attr_text(ev.type.value, ev.type.type, plain, scratch, &text[3], &text_len[3]);
	m->type = text[3];
	m->type_len = text_len[3];
	/* id and source too: the relay checks them against the row's columns */
	attr_text(ev.id.value, ev.id.type, plain, scratch, &text[1], &text_len[1]);
	attr_text(ev.source.value, ev.source.type, plain, scratch, &text[2], &text_len[2]);
	m->id = text[1];
	m->id_len = text_len[1];
	m->source = text[2];
	m->source_len = text_len[2];
	const char *ct = NULL;
	size_t ct_len = 0;
	if (ev.datacontenttype.value.p) {
		attr_text(ev.datacontenttype.value, ev.datacontenttype.type, plain, scratch, &text[6],
			  &text_len[6]);
		ct = text[6];
		ct_len = text_len[6];
	}
	/* A content-type starting application/cloudevents means structured
	 * mode to every receiver: such an event goes structured. */
	if (ct && ct_len >= sizeof "application/cloudevents" - 1 &&
	    iprefix(ct, ct_len, "application/cloudevents"))
		mode = CEKAFKA_STRUCTURED;
	m->mode = mode;
	if (mode == CEKAFKA_BINARY)
		for (int i = 0; i < 8; i++)
			if (core[i]->value.p) {
				if (i != 1 && i != 2 && i != 3 && i != 6)
					attr_text(core[i]->value, core[i]->type, plain, scratch,
						  &text[i], &text_len[i]);
				add_header(m, core_header[i].name, core_header[i].len, text[i],
					   text_len[i]);
			}

	for (size_t i = 0; i < ev.n_ext; i++) {
		const ce_attr *a = &ev.ext[i];
		if (mode == CEKAFKA_STRUCTURED && plain) {
			/* no header: only the three extensions reported
			 * matter, and their names need no decoding */
			const char *bare = a->name.p + 1;
			size_t nl = a->name.n - 2;
			const char **dst = NULL;
			size_t *dst_len = NULL;
			if (eq(bare, nl, "partitionkey"))
				dst = &m->key, dst_len = &m->key_len;
			else if (eq(bare, nl, "traceparent"))
				dst = &m->traceparent, dst_len = &m->traceparent_len;
			else if (eq(bare, nl, "tracestate"))
				dst = &m->tracestate, dst_len = &m->tracestate_len;
			if (dst)
				attr_text(a->value, a->type, plain, scratch, dst, dst_len);
			continue;
		}
		/* "ce_" + decoded name; for a name with escapes the decoded
		 * name is shorter than the token, so the bound holds. */
		char *name = scratch->data + scratch->len;
		memcpy(name, "ce_", 3);
		size_t nl;
		if (plain) {
			nl = a->name.n - 2;
			memcpy(name + 3, a->name.p + 1, nl);
		} else if ((nl = json_string_decode_fixed(a->name, name + 3,
							  scratch->cap - scratch->len - 3)) == (size_t)-1) {
			return errinfo_set(err, EXIT_SOFTWARE, "scratch buffer overrun");
		}
		scratch->len += 3 + nl;
		const char *p;
		size_t n;
		attr_text(a->value, a->type, plain, scratch, &p, &n);
		const char *bare = name + 3;
		if (eq(bare, nl, "partitionkey")) {
			m->key = p;
			m->key_len = n;
		} else if (eq(bare, nl, "traceparent")) {
			m->traceparent = p;
			m->traceparent_len = n;
		} else if (eq(bare, nl, "tracestate")) {
			m->tracestate = p;
			m->tracestate_len = n;
		}
		if (mode == CEKAFKA_BINARY)
			add_header(m, name, 3 + nl, p, n);
	}

	if (mode == CEKAFKA_BINARY) {
		if (data_value(m, &ev, ct, ct_len, plain, scratch) != 0)
			return errinfo_set(err, EXIT_SOFTWARE, "scratch buffer overrun");
	} else {
		add_header(m, "content-type", 12, CEKAFKA_STRUCTURED_CT, sizeof CEKAFKA_STRUCTURED_CT - 1);
		if (ev.canonical.p) {
			m->value = ev.canonical.p;
			m->value_len = ev.canonical.n;
		} else {
			size_t at = scratch->len;
			if (ce_write_json(&ev, scratch) != 0)
				return errinfo_set(err, EXIT_SOFTWARE, "scratch buffer overrun");
			m->value = scratch->data + at;
			m->value_len = scratch->len - at;
		}
	}
	if (scratch->data != base) /* the reservation above rules this out */
		return errinfo_set(err, EXIT_SOFTWARE, "scratch buffer moved");
	scratch->data[scratch->len] = '\0';
	/* ce_parse accepted the event, so these hold a valid W3C context
	 * (cloudevent.h: the distributed-tracing extension). */
	m->checked_traceparent = m->traceparent;
	m->checked_traceparent_len = m->traceparent_len;
	m->checked_tracestate = m->tracestate;
	m->checked_tracestate_len = m->tracestate_len;
	return 0;
}

int cekafka_hop_headers(cekafka_msg *m, traceparent *hop, errinfo *err)
{
	if (m->n_headers + 2 > CEKAFKA_MAX_HEADERS)
		return errinfo_set(err, EXIT_SOFTWARE, "no room for the hop headers");
	/* What cekafka_encode had ce_parse validate needs no second look. */
	int tp_checked = m->traceparent && m->traceparent == m->checked_traceparent &&
			 m->traceparent_len == m->checked_traceparent_len;
	int ts_checked = m->tracestate && m->tracestate == m->checked_tracestate &&
			 m->tracestate_len == m->checked_tracestate_len;
	traceparent parent, child;
	int r, valid;
	if (tp_checked && !hop) {
		/* The relay's case: the child's text straight from the
		 * parent's, without decoding either. */
		valid = 1;
		r = traceparent_child_text(m->traceparent, m->hop_traceparent);
	} else {
		valid = m->traceparent &&
			traceparent_parse(&parent, m->traceparent, m->traceparent_len) == 0;
		r = valid ? traceparent_child(&parent, &child) : traceparent_new_root(&child);
		if (r == 0)
			traceparent_format(&child, m->hop_traceparent);
	}
	if (r != 0)
		return errinfo_set(err, EXIT_SOFTWARE, "cannot get random bytes for a trace id");
	add_header(m, "traceparent", 11, m->hop_traceparent, TRACEPARENT_LEN);
	if (valid && m->tracestate &&
	    (ts_checked || tracestate_check(m->tracestate, m->tracestate_len) == 0))
		add_header(m, "tracestate", 10, m->tracestate, m->tracestate_len);
	if (hop)
		*hop = child;
	return 0;
}

/* ---- decode ---- */

/* Valid UTF-8 and no C0, DEL or C1 control character: 2 when it is
 * printable ASCII without '"' or '\\' (a JSON string body as it is), 1 for
 * other valid text, 0 when it is not. */
static int header_text_ok(const char *s, size_t n)
{
	/* the usual value: printable ASCII, 16 bytes a step */
	size_t i = strscan_plain((const unsigned char *)s, n, 1);
	if (i == n)
		return 2;
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7F)
			return 0;
		if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] < 0xA0)
			return 0; /* U+0080..U+009F (a bad continuation fails below) */
	}
	return utf8_valid(s, n) ? 1 : 0;
}

static int core_index(const char *s, size_t n)
{
	/* every header of every message comes here: lengths first */
	for (int i = 0; i < 8; i++)
		if (n == core_name_len[i] && memcmp(s, core_name[i], n) == 0)
			return i;
	return -1;
}

typedef struct hdr_ref {
	const char *name; /* after "ce_" */
	size_t name_len;
	const cekafka_header *h;
	int plain; /* header_text_ok() said 2 */
} hdr_ref;

static int ref_cmp(const hdr_ref *a, const hdr_ref *b)
{
	size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
	int c = memcmp(a->name, b->name, n);
	if (c)
		return c;
	return a->name_len < b->name_len ? -1 : a->name_len > b->name_len;
}

static const char *hval(const cekafka_header *h, size_t *n)
{
	*n = h->value ? h->value_len : 0;
	return h->value ? h->value : "";
}

/* ",\"NAME\":" (no comma for the first member) then the JSON string of
 * the header's value. */
static int put_member(buf *out, int first, const char *name, size_t name_len,
		      const cekafka_header *h, int plain)
{
	size_t n;
	const char *v = hval(h, &n);
	/* One reservation for the member written as it is (every header of
	 * every message comes here; five appends cost more than the copy). */
	if (buf_reserve(out, name_len + n + 6) != 0)
		return -1;
	char *d = out->data + out->len;
	if (!first)
		*d++ = ',';
	*d++ = '"';
	memcpy(d, name, name_len);
	d += name_len;
	*d++ = '"';
	*d++ = ':';
	/* nothing to escape (header_text_ok ruled out controls): copy it */
	if (!plain)
		plain = strscan_plain((const unsigned char *)v, n, 0) == n;
	if (plain) {
		*d++ = '"';
		memcpy(d, v, n);
		d += n;
		*d++ = '"';
	}
	out->len = (size_t)(d - out->data);
	out->data[out->len] = '\0';
	return plain ? 0 : json_string_encode(out, v, n);
}

static void info_trace(cekafka_info *info, const cekafka_header *tp, int tp_dup,
		       const cekafka_header *ts, int ts_dup)
{
	info->has_traceparent = 0;
	info->tracestate = NULL;
	info->tracestate_len = 0;
	size_t n;
	const char *v;
	if (!tp || tp_dup)
		return;
	v = hval(tp, &n);
	if (traceparent_parse(&info->traceparent, v, n) != 0)
		return;
	info->has_traceparent = 1;
	if (!ts || ts_dup)
		return;
	v = hval(ts, &n);
	if (tracestate_check(v, n) == 0) {
		info->tracestate = v;
		info->tracestate_len = n;
	}
}

static int decode_structured(const cekafka_header *cth, const void *value, size_t value_len,
			     buf *out, cekafka_info *info, errinfo *err)
{
	size_t n;
	const char *ct = hval(cth, &n);
	size_t k = strlen("application/cloudevents");
	const char *rest = ct + k;
	size_t rn = n - k;
	char shown[64];
	if (iprefix(rest, rn, "-batch"))
		return errinfo_set(err, EXIT_DATAERR,
				   "content-type: %s: batch mode is not supported on Kafka",
				   safe(ct, n, shown));
	if (!iprefix(rest, rn, "+json") ||
	    (rn > 5 && rest[5] != ';' && rest[5] != ' ' && rest[5] != '\t'))
		return errinfo_set(err, EXIT_DATAERR,
				   "content-type: %s: unsupported event format (only "
				   "application/cloudevents+json)",
				   safe(ct, n, shown));
	if (!value)
		return errinfo_set(err, EXIT_DATAERR, "structured mode message without a value");
	cloudevent ev;
	int r = ce_parse_line(&ev, value, value_len, err);
	if (r != 0)
		return r;
	if (ce_write_json(&ev, out) != 0)
		return errinfo_set(err, EXIT_SOFTWARE, "output buffer full");
	if (info && json_string_is_plain(ev.id.value) && json_string_is_plain(ev.source.value)) {
		info->id = ev.id.value.p + 1;
		info->id_len = ev.id.value.n - 2;
		info->source = ev.source.value.p + 1;
		info->source_len = ev.source.value.n - 2;
	}
	return 0;
}

/* Append the data member for a binary-mode value. */
static int put_data(buf *out, const char *ct, size_t ct_len, const char *v, size_t n)
{
	if (!v || n == 0)
		return 0;
	json_span s;
	int is_json = ce_content_type_is_json(ct, ct_len);
	/* the usual JSON data, already compact: as it is */
	if (is_json && ce_json_flat_compact(v, n))
		return buf_append(out, ",\"data\":", 8) != 0 || buf_append(out, v, n) != 0 ? -1 : 0;
	if (is_json && json_parse_value(v, n, &s, NULL, NULL) == 0)
		return buf_append(out, ",\"data\":", 8) != 0 ? -1 : json_compact(s, out);
	if (ct && ct_is_text(ct, ct_len) && utf8_valid(v, n))
		return buf_append(out, ",\"data\":", 8) != 0 ? -1 : json_string_encode(out, v, n);
	if (buf_append(out, ",\"data_base64\":\"", 16) != 0 || base64_encode(out, v, n) != 0)
		return -1;
	return buf_putc(out, '"');
}

static int decode_binary(const cekafka_header *core[8], const int core_plain[8],
			 int ct_from_header, hdr_ref *ext,
			 size_t n_ext, const void *value, size_t value_len, buf *out, errinfo *err)
{
	size_t start = out->len;
	int r = EXIT_SOFTWARE;
	if (buf_putc(out, '{') != 0)
		goto full;
	for (int i = 0; i < 8; i++)
		if (core[i] &&
		    put_member(out, i == 0, core_name[i], core_name_len[i], core[i], core_plain[i]) != 0)
			goto full;
	/* extensions sorted by name: what ce_write_json writes */
	for (size_t i = 1; i < n_ext; i++) {
		hdr_ref t = ext[i];
		size_t j = i;
		for (; j > 0 && ref_cmp(&ext[j - 1], &t) > 0; j--)
			ext[j] = ext[j - 1];
		ext[j] = t;
	}
	for (size_t i = 0; i < n_ext; i++) {
		char shown[64];
		if (i > 0 && ref_cmp(&ext[i - 1], &ext[i]) == 0) {
			out->len = start;
			return errinfo_set(err, EXIT_DATAERR, "ce_%s: header appears twice",
					   safe(ext[i].name, ext[i].name_len, shown));
		}
		if (put_member(out, 0, ext[i].name, ext[i].name_len, ext[i].h, ext[i].plain) != 0)
			goto full;
	}
	/* The attributes are checked as an event of their own, before the
	 * data goes in: put_data writes data only in the canonical form
	 * (compact JSON, a JSON string, base64), which ce_parse would only
	 * scan again. */
	size_t attrs_end = out->len;
	if (buf_putc(out, '}') != 0)
		goto full;
	cloudevent ev;
	ce_error ce;
	const char *draft = out->data + start;
	size_t dn = out->len - start;
	if (ce_parse(&ev, draft, dn, &ce) != 0) {
		out->len = start;
		out->data[start] = '\0';
		const char *hn = "";
		char name[80];
		if (ce.attribute[0]) {
			if (strcmp(ce.attribute, "datacontenttype") == 0 && ct_from_header)
				hn = "content-type";
			else {
				snprintf(name, sizeof name, "ce_%s", ce.attribute);
				hn = name;
			}
			return errinfo_set(err, EXIT_DATAERR, "%s: %s", hn, ce.text);
		}
		return errinfo_set(err, EXIT_DATAERR, "%s", ce.text);
	}
	size_t ctn = 0;
	const char *ct = core[6] ? hval(core[6], &ctn) : NULL;
	int canonical = ev.canonical.p == draft && ev.canonical.n == dn;
	out->len = attrs_end;
	if (put_data(out, ct, ctn, value, value_len) != 0 || buf_putc(out, '}') != 0)
		goto full;
	if (canonical)
		return 0;
	/* Not already canonical (not expected from the draft above): write it
	 * the long way from a copy. */
	draft = out->data + start;
	dn = out->len - start;
	char *copy = malloc(dn);
	if (!copy)
		goto full;
	memcpy(copy, draft, dn);
	out->len = start;
	if (ce_parse(&ev, copy, dn, &ce) != 0 || ce_write_json(&ev, out) != 0) {
		free(copy);
		goto full;
	}
	free(copy);
	return 0;
full:
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
	return errinfo_set(err, r, "output buffer full");
}

int cekafka_decode(const cekafka_header *h, size_t n, const void *value, size_t value_len,
		   buf *out, cekafka_info *info, errinfo *err)
{
	const cekafka_header *core[8] = {0};
	int core_plain[8] = {0}, ce_ct_plain = 0;
	const cekafka_header *ct = NULL, *ce_ct = NULL, *tp = NULL, *ts = NULL;
	int tp_dup = 0, ts_dup = 0;
	hdr_ref ext[CE_MAX_EXTENSIONS];
	size_t n_ext = 0, n_ce = 0;
	char shown[64];
	/* The hop's context first, so that it is known for a message that is
	 * rejected below too (the consumer's dead-letter path wants it). */
	for (size_t i = 0; info && i < n; i++) {
		const char *name = h[i].name ? h[i].name : "";
		size_t nl = h[i].name ? h[i].name_len : 0;
		if (ieq(name, nl, "traceparent")) {
			tp_dup = tp != NULL;
			tp = &h[i];
		} else if (ieq(name, nl, "tracestate")) {
			ts_dup = ts != NULL;
			ts = &h[i];
		}
	}
	if (info) {
		info->mode = CEKAFKA_BINARY;
		info->id = info->source = NULL;
		info->id_len = info->source_len = 0;
		info_trace(info, tp, tp_dup, ts, ts_dup);
	}

	for (size_t i = 0; i < n; i++) {
		const char *name = h[i].name ? h[i].name : "";
		size_t nl = h[i].name ? h[i].name_len : 0;
		if (nl >= 3 && memcmp(name, "ce_", 3) == 0) {
			const char *a = name + 3;
			size_t an = nl - 3;
			int k = core_index(a, an);
			n_ce++;
			size_t vn;
			const char *v = hval(&h[i], &vn);
			int text = header_text_ok(v, vn);
			if (!text)
				return errinfo_set(err, EXIT_DATAERR,
						   "%s: header value is not UTF-8 text without control "
						   "characters",
						   safe(name, nl, shown));
			if (k == 6) {
				if (ce_ct)
					return errinfo_set(err, EXIT_DATAERR,
							   "ce_datacontenttype: header appears twice");
				ce_ct = &h[i];
				ce_ct_plain = text == 2;
			} else if (k >= 0) {
				if (core[k])
					return errinfo_set(err, EXIT_DATAERR, "%s: header appears twice",
							   core_header[k].name);
				core[k] = &h[i];
				core_plain[k] = text == 2;
			} else {
				if (!ce_extension_name_valid(a, an))
					return errinfo_set(err, EXIT_DATAERR,
							   "%s: not a CloudEvents attribute name "
							   "(lower-case letters and digits)",
							   safe(name, nl, shown));
				if (n_ext == CE_MAX_EXTENSIONS)
					return errinfo_set(err, EXIT_DATAERR,
							   "more than %d extension headers",
							   CE_MAX_EXTENSIONS);
				ext[n_ext].name = a;
				ext[n_ext].name_len = an;
				ext[n_ext].h = &h[i];
				ext[n_ext].plain = text == 2;
				n_ext++;
			}
		} else if (ieq(name, nl, "content-type")) {
			if (ct)
				return errinfo_set(err, EXIT_DATAERR, "content-type: header appears twice");
			ct = &h[i];
		}
	}

	size_t ctn;
	const char *ctv = ct ? hval(ct, &ctn) : NULL;
	if (ctv && iprefix(ctv, ctn, "application/cloudevents")) {
		if (info)
			info->mode = CEKAFKA_STRUCTURED;
		return decode_structured(ct, value, value_len, out, info, err);
	}
	if (info)
		info->mode = CEKAFKA_BINARY;
	if (n_ce == 0)
		return errinfo_set(err, EXIT_DATAERR,
				   "not a CloudEvent: no content-type application/cloudevents... "
				   "and no ce_ headers");
	for (int k = 0; k < 4; k++)
		if (!core[k])
			return errinfo_set(err, EXIT_DATAERR, "%s: required header missing",
					   core_header[k].name);
	int from_header = 1;
	if (ct) {
		int text = header_text_ok(ctv, ctn);
		if (!text)
			return errinfo_set(err, EXIT_DATAERR,
					   "content-type: header value is not UTF-8 text without "
					   "control characters");
		core[6] = ct;
		core_plain[6] = text == 2;
	} else if (ce_ct) {
		core[6] = ce_ct;
		core_plain[6] = ce_ct_plain;
		from_header = 0;
	}
	int r = decode_binary(core, core_plain, from_header, ext, n_ext, value, value_len, out, err);
	if (r == 0 && info) {
		info->id = hval(core[1], &info->id_len);
		info->source = hval(core[2], &info->source_len);
	}
	return r;
}

/* ---- the round-trip rule ---- */

/* 1 if tok is what json_string_encode writes for its decoded value. */
static int escapes_canonical(json_span tok)
{
	if (json_string_is_plain(tok)) {
		/* json_string_encode escapes only '"', '\\' and controls: a
		 * plain valid token holds none of them unescaped. */
		return 1;
	}
	buf d, e;
	buf_init(&d, 0);
	buf_init(&e, 0);
	int same = json_string_decode(tok, &d) == 0 &&
		   json_string_encode(&e, d.data ? d.data : "", d.len) == 0 && e.len == tok.n &&
		   memcmp(e.data, tok.p, tok.n) == 0;
	buf_free(&d);
	buf_free(&e);
	return same;
}

int cekafka_binary_lossless(const cloudevent *ev)
{
	const ce_attr *core[8] = {&ev->specversion, &ev->id, &ev->source, &ev->type,
				  &ev->subject, &ev->time, &ev->datacontenttype, &ev->dataschema};
	buf ct, bytes;
	buf_init(&ct, 0);
	buf_init(&bytes, 0);
	int ok = 0;
	if (ev->datacontenttype.value.p && json_string_decode(ev->datacontenttype.value, &ct) != 0)
		goto done;
	const char *ctp = ev->datacontenttype.value.p ? (ct.data ? ct.data : "") : NULL;
	if (ctp && iprefix(ctp, ct.len, "application/cloudevents")) {
		ok = 1; /* sent in structured mode */
		goto done;
	}
	for (int i = 0; i < 8; i++)
		if (core[i]->value.p && !escapes_canonical(core[i]->value))
			goto done;
	for (size_t i = 0; i < ev->n_ext; i++)
		if (ev->ext[i].type != JSON_STRING || !escapes_canonical(ev->ext[i].value))
			goto done; /* rules 1 and 2 */
	if (ev->data_kind == CE_DATA_NONE) {
		ok = 1;
		goto done;
	}
	int is_json = ce_content_type_is_json(ctp, ct.len);
	int is_text = ctp && ct_is_text(ctp, ct.len);
	if (ce_data_bytes(ev, &bytes) != 0)
		goto done;
	const char *b = bytes.data ? bytes.data : "";
	if (bytes.len == 0) /* rule 3 (JSON data is never empty) */
		goto done;
	if (ev->data_kind == CE_DATA_BASE64) /* rule 4 */
		ok = !(is_json && json_parse_value(b, bytes.len, NULL, NULL, NULL) == 0) &&
		     !(is_text && utf8_valid(b, bytes.len));
	else if (is_json)
		ok = 1;
	else /* rule 5, then rule 2 for the string */
		ok = ev->data_type == JSON_STRING && is_text && escapes_canonical(ev->data);
done:
	buf_free(&ct);
	buf_free(&bytes);
	return ok;
}
