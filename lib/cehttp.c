/* cehttp.c - see cehttp.h */
#include "cehttp.h"
#include "exitcode.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#define CEHTTP_MAX_BODY ((size_t)256 << 20)
#define CEHTTP_MAX_HEADERS ((size_t)1 << 20)

struct cehttp {
	CURL *curl;
	char *url;
	char redacted[512];
	char method[32];
	long connect_timeout_ms, timeout_ms;
	buf hdr;                   /* header lines, each NUL-terminated */
	buf body;                  /* batched body */
	size_t *offs;              /* start of each header line in hdr */
	struct curl_slist *nodes;  /* list cells pointing into hdr */
	size_t nhdr, hdr_cap;
	char errbuf[CURL_ERROR_SIZE];
	char retry_after[64];      /* from the current response */
};

static const char ct_structured[] = "Content-Type: application/cloudevents+json; charset=UTF-8";
static const char ct_batch[] = "Content-Type: application/cloudevents-batch+json; charset=UTF-8";

int cehttp_pct_encode(buf *b, const char *v, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	/* Worst case three bytes per input byte, reserved once so a failure
	 * leaves b as it was. */
	if (n > (SIZE_MAX - 1) / 3 || buf_reserve(b, n * 3) != 0)
		return -1;
	char *o = b->data + b->len;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < 0x21 || c > 0x7e || c == '"' || c == '%') {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		} else {
			*o++ = (char)c;
		}
	}
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
	return 0;
}

static void copy_bounded(char *out, size_t outsz, size_t *o, const char *p, size_t n)
{
	while (n-- > 0 && *o + 1 < outsz)
		out[(*o)++] = *p++;
}

void cehttp_redact_url(const char *url, char *out, size_t outsz)
{
	if (outsz == 0)
		return;
	size_t o = 0, len = strlen(url);
	const char *auth = strstr(url, "://");
	size_t a = auth ? (size_t)(auth - url) + 3 : 0;
	/* A "://" inside the path or query is not the scheme separator. */
	if (auth && strcspn(url, "/?#") < (size_t)(auth - url))
		a = 0;
	size_t aend = a + strcspn(url + a, "/?#");
	copy_bounded(out, outsz, &o, url, a);
	const char *at = NULL;
	for (size_t i = a; i < aend; i++)
		if (url[i] == '@')
			at = url + i;
	if (at) {
		copy_bounded(out, outsz, &o, "***", 3);
		copy_bounded(out, outsz, &o, at, (size_t)(url + aend - at));
	} else {
		copy_bounded(out, outsz, &o, url + a, aend - a);
	}
	size_t pend = aend + strcspn(url + aend, "?#");
	copy_bounded(out, outsz, &o, url + aend, pend - aend);
	if (pend < len && url[pend] == '?')
		copy_bounded(out, outsz, &o, "?***", 4);
	out[o] = '\0';
}

long cehttp_parse_retry_after(const char *v, size_t n)
{
	while (n > 0 && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n == 0)
		return -1;
	if (v[0] >= '0' && v[0] <= '9') {
		long s = 0;
		for (size_t i = 0; i < n; i++) {
			if (v[i] < '0' || v[i] > '9')
				return -1;
			/* A day is more than any sane server asks for; clamp. */
			if (s < 86400L * 365)
				s = s * 10 + (v[i] - '0');
		}
		return s < 86400L * 365 ? s : 86400L * 365;
	}
	/* HTTP-date (IMF-fixdate; curl_getdate also takes the obsolete forms). */
	char tmp[64];
	if (n >= sizeof tmp || memchr(v, '\0', n))
		return -1;
	memcpy(tmp, v, n);
	tmp[n] = '\0';
	time_t t = curl_getdate(tmp, NULL);
	if (t == (time_t)-1)
		return -1;
	time_t now = time(NULL);
	return t > now ? (long)(t - now) : 0;
}

static int hdr_start(cehttp *h)
{
	if (h->nhdr == h->hdr_cap) {
		size_t cap = h->hdr_cap ? h->hdr_cap * 2 : 32;
		size_t *offs = realloc(h->offs, cap * sizeof *offs);
		if (!offs)
			return -1;
		h->offs = offs;
		struct curl_slist *nodes = realloc(h->nodes, cap * sizeof *nodes);
		if (!nodes)
			return -1;
		h->nodes = nodes;
		h->hdr_cap = cap;
	}
	h->offs[h->nhdr++] = h->hdr.len;
	return 0;
}

static int hdr_end(cehttp *h)
{
	return buf_append(&h->hdr, "", 1); /* the line's NUL */
}

static int hdr_add(cehttp *h, const char *line)
{
	return hdr_start(h) || buf_puts(&h->hdr, line) || hdr_end(h) ? -1 : 0;
}

/* The cells are ours, not curl_slist_append's: libcurl only reads the list,
 * and building it in place avoids a malloc per header per event. */
static struct curl_slist *hdr_list(cehttp *h)
{
	for (size_t i = 0; i < h->nhdr; i++) {
		h->nodes[i].data = h->hdr.data + h->offs[i];
		h->nodes[i].next = i + 1 < h->nhdr ? &h->nodes[i + 1] : NULL;
	}
	return h->nhdr ? h->nodes : NULL;
}

static void hdr_reset(cehttp *h)
{
	buf_reset(&h->hdr);
	h->nhdr = 0;
}

static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A header line "NAME: VALUE", or "NAME;" for an empty value (libcurl
 * drops "NAME:" with nothing after it instead of sending it empty). */
static int hdr_add_plain(cehttp *h, const char *name, const char *value)
{
	if (hdr_start(h) || buf_puts(&h->hdr, name))
		return -1;
	if (*value ? buf_puts(&h->hdr, ": ") || buf_puts(&h->hdr, value) : buf_putc(&h->hdr, ';'))
		return -1;
	return hdr_end(h);
}

static const char *bad_extra(const cehttp_header *extra, size_t nextra, size_t *which)
{
	for (size_t i = 0; i < nextra; i++) {
		*which = i;
		const unsigned char *p = (const unsigned char *)extra[i].name;
		if (!p || !*p)
			return "an empty header name";
		for (; *p; p++)
			if (!is_tchar(*p))
				return "a header name that is not an HTTP token";
		if (!extra[i].value)
			return "a header without value";
		for (p = (const unsigned char *)extra[i].value; *p; p++)
			if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
				return "a control character (CR, LF) in a header value";
	}
	return NULL;
}

static cehttp_result fail(errinfo *err, cehttp_result r, int code, const cehttp *h,
			  const char *what)
{
	errinfo_set(err, code, "%s %s: %s", h->method, h->redacted, what);
	return r;
}

static size_t on_body(char *p, size_t size, size_t n, void *u)
{
	(void)p;
	(void)u;
	return size * n; /* the answer's body is not needed */
}

static size_t on_header(char *p, size_t size, size_t n, void *u)
{
	cehttp *h = u;
	size_t len = size * n;
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		h->retry_after[0] = '\0'; /* a new response (after a 1xx) */
	} else if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
		const char *v = p + 12;
		size_t vn = len - 12;
		while (vn > 0 && (*v == ' ' || *v == '\t'))
			v++, vn--;
		while (vn > 0 && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' ' ||
				  v[vn - 1] == '\t'))
			vn--;
		size_t k = 0;
		for (; k < vn && k + 1 < sizeof h->retry_after; k++) {
			unsigned char c = (unsigned char)v[k];
			h->retry_after[k] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		}
		h->retry_after[k] = '\0';
	}
	return len;
}

int cehttp_new(cehttp **out, const cehttp_options *opt, errinfo *err)
{
	*out = NULL;
	static int global_done;
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return errinfo_set(err, EXIT_SOFTWARE, "libcurl cannot start");
		global_done = 1;
	}
	const char *url = opt && opt->url ? opt->url : "";
	cehttp *h = calloc(1, sizeof *h);
	if (!h)
		return errinfo_set(err, EXIT_SOFTWARE, "out of memory");
	cehttp_redact_url(url, h->redacted, sizeof h->redacted);
	buf_init(&h->hdr, CEHTTP_MAX_HEADERS);
	buf_init(&h->body, CEHTTP_MAX_BODY);
	const char *method = opt && opt->method ? opt->method : "POST";
	size_t ml = strlen(method);
	int bad_method = ml == 0 || ml >= sizeof h->method;
	for (size_t i = 0; i < ml && !bad_method; i++)
		bad_method = !is_tchar((unsigned char)method[i]);
	if (bad_method) {
		cehttp_free(h);
		return errinfo_set(err, EXIT_CONFIG, "not an HTTP method: \"%.32s\"", method);
	}
	memcpy(h->method, method, ml + 1);

	/* Parse with libcurl's own parser so what we accept is what it sends. */
	CURLU *u = curl_url();
	char *scheme = NULL;
	int rc = 0;
	if (!u) {
		rc = errinfo_set(err, EXIT_SOFTWARE, "out of memory");
	} else if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
		   curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		rc = errinfo_set(err, EXIT_CONFIG, "not a valid URL: %s", h->redacted);
	} else if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
		rc = errinfo_set(err, EXIT_CONFIG, "not an http or https URL: %s", h->redacted);
	}
	curl_free(scheme);
	curl_url_cleanup(u);
	if (rc) {
		cehttp_free(h);
		return rc;
	}
	h->url = strdup(url);
	h->curl = curl_easy_init();
	if (!h->url || !h->curl) {
		cehttp_free(h);
		return errinfo_set(err, EXIT_SOFTWARE, "out of memory");
	}
	CURL *c = h->curl;
	CURLcode cc = CURLE_OK;
#define SETOPT(o, v) do { if (cc == CURLE_OK) cc = curl_easy_setopt(c, o, v); } while (0)
	SETOPT(CURLOPT_URL, h->url);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(CURLOPT_ERRORBUFFER, h->errbuf);
	SETOPT(CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_HEADERDATA, h);
	SETOPT(CURLOPT_POST, 1L);
	if (strcmp(h->method, "POST") != 0)
		SETOPT(CURLOPT_CUSTOMREQUEST, h->method);
#undef SETOPT
	if (cc != CURLE_OK) {
		cehttp_free(h);
		return errinfo_set(err, EXIT_SOFTWARE, "libcurl: %s", curl_easy_strerror(cc));
	}
	cehttp_set_timeouts(h, opt ? opt->connect_timeout_ms : 0, opt ? opt->timeout_ms : 0);
	*out = h;
	return 0;
}

void cehttp_free(cehttp *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	free(h->url);
	buf_free(&h->hdr);
	buf_free(&h->body);
	free(h->offs);
	free(h->nodes);
	free(h);
}

void cehttp_set_timeouts(cehttp *h, long connect_timeout_ms, long timeout_ms)
{
	h->connect_timeout_ms = connect_timeout_ms > 0 ? connect_timeout_ms : 10000;
	h->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
}

const char *cehttp_url(const cehttp *h)
{
	return h->redacted;
}

/* Send what is in h->hdr with body p/n, and classify the answer. */
static cehttp_result perform(cehttp *h, const void *p, size_t n, cehttp_outcome *out,
			     errinfo *err)
{
	cehttp_outcome dummy;
	if (!out)
		out = &dummy;
	out->status = 0;
	out->auth = 0;
	out->retry_after = -1;
	out->retry_after_text[0] = '\0';
	h->errbuf[0] = '\0';
	h->retry_after[0] = '\0';
	CURL *c = h->curl;
	CURLcode cc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr_list(h));
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, n ? p : "");
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
	if (cc == CURLE_OK)
		cc = curl_easy_perform(c);
	/* The list points into h->hdr: never leave it set past this call. */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	if (cc != CURLE_OK) {
		const char *why = h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc);
		errinfo_set(err, cc == CURLE_OUT_OF_MEMORY ? EXIT_SOFTWARE : EXIT_UNAVAILABLE,
			    "%s %s: %s", h->method, h->redacted, why);
		return CEHTTP_RETRY;
	}
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	out->status = status;
	memcpy(out->retry_after_text, h->retry_after, sizeof out->retry_after_text);
	if (h->retry_after[0])
		out->retry_after = cehttp_parse_retry_after(h->retry_after, strlen(h->retry_after));
	if (status >= 200 && status <= 299) {
		if (err)
			errinfo_clear(err);
		return CEHTTP_OK;
	}
	char ra[96] = "";
	if (h->retry_after[0])
		snprintf(ra, sizeof ra, " (Retry-After: %s)", h->retry_after);
	if (status == 408 || status == 429 || (status >= 500 && status <= 599)) {
		/* A server error is the endpoint being unavailable (69); 408 and
		 * 429 are a working endpoint asking to come back later (75). */
		errinfo_set(err, status >= 500 ? EXIT_UNAVAILABLE : EXIT_TEMPFAIL, "%s %s: HTTP %ld%s",
			    h->method, h->redacted, status, ra);
		return CEHTTP_RETRY;
	}
	if (status == 401 || status == 403) {
		out->auth = 1;
		errinfo_set(err, EXIT_NOPERM, "%s %s: HTTP %ld (%s)", h->method, h->redacted, status,
			    status == 401 ? "authentication required" : "forbidden");
		return CEHTTP_PERMANENT;
	}
	if (status >= 300 && status <= 399) {
		/* Not the event's fault: the URL points at a redirect. */
		errinfo_set(err, EXIT_CONFIG, "%s %s: HTTP %ld (redirects are not followed)",
			    h->method, h->redacted, status);
		return CEHTTP_PERMANENT;
	}
	errinfo_set(err, EXIT_DATAERR, "%s %s: HTTP %ld", h->method, h->redacted, status);
	return CEHTTP_PERMANENT;
}

static int add_extra(cehttp *h, const cehttp_header *extra, size_t nextra)
{
	for (size_t i = 0; i < nextra; i++)
		if (hdr_add_plain(h, extra[i].name, extra[i].value) != 0)
			return -1;
	return 0;
}

static int valid_ct(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p > 0x7e)
			return 0;
	return 1;
}

static int is_name(const cehttp_attr *a, const char *name)
{
	size_t n = strlen(name);
	return a->name_len == n && memcmp(a->name, name, n) == 0;
}

cehttp_result cehttp_send_binary(cehttp *h, const cehttp_attr *attrs, size_t nattrs,
				 const void *data, size_t data_len, const char *content_type,
				 const cehttp_header *extra, size_t nextra,
				 cehttp_outcome *out, errinfo *err)
{
	size_t which;
	const char *bad = bad_extra(extra, nextra, &which);
	if (bad) {
		char msg[160];
		snprintf(msg, sizeof msg, "extra header %zu: %s; nothing sent", which + 1, bad);
		return fail(err, CEHTTP_PERMANENT, EXIT_DATAERR, h, msg);
	}
	hdr_reset(h);
	const char *dct = NULL;
	size_t dct_len = 0;
	int oom = hdr_add(h, "Expect:");
	for (size_t i = 0; i < nattrs && !oom; i++) {
		const cehttp_attr *a = &attrs[i];
		int ok = a->name_len > 0 && a->name_len <= 64;
		for (size_t k = 0; k < a->name_len && ok; k++)
			ok = (a->name[k] >= 'a' && a->name[k] <= 'z') ||
			     (a->name[k] >= '0' && a->name[k] <= '9');
		if (!ok) {
			char msg[200];
			snprintf(msg, sizeof msg,
				 "attribute %zu: name \"%.*s\" is not [a-z0-9]+; nothing sent", i + 1,
				 (int)(a->name_len > 40 ? 40 : a->name_len), a->name ? a->name : "");
			for (char *m = msg; *m; m++)
				if ((unsigned char)*m < 0x20 || (unsigned char)*m > 0x7e)
					*m = '?';
			return fail(err, CEHTTP_PERMANENT, EXIT_DATAERR, h, msg);
		}
		if (is_name(a, "datacontenttype")) {
			dct = a->value;
			dct_len = a->value_len;
			continue; /* the binding: never also a ce- header */
		}
		oom = hdr_start(h) || buf_puts(&h->hdr, "ce-") ||
		      buf_append(&h->hdr, a->name, a->name_len) ||
		      (a->value_len ? buf_puts(&h->hdr, ": ") ||
					      cehttp_pct_encode(&h->hdr, a->value, a->value_len)
				    : buf_putc(&h->hdr, ';')) ||
		      hdr_end(h);
	}
	if (!oom) {
		if (!content_type && dct) {
			if (memchr(dct, '\0', dct_len))
				return fail(err, CEHTTP_PERMANENT, EXIT_DATAERR, h,
					    "datacontenttype holds a NUL byte; nothing sent");
			oom = hdr_start(h) || buf_puts(&h->hdr, "Content-Type: ") ||
			      buf_append(&h->hdr, dct, dct_len) || hdr_end(h);
			content_type = h->hdr.data + h->offs[h->nhdr - 1] + 14;
		} else if (content_type) {
			oom = hdr_start(h) || buf_puts(&h->hdr, "Content-Type: ") ||
			      buf_puts(&h->hdr, content_type) || hdr_end(h);
		} else {
			/* Without one libcurl would claim a form upload. */
			oom = hdr_add(h, "Content-Type:");
		}
	}
	if (!oom && content_type && !valid_ct(content_type))
		return fail(err, CEHTTP_PERMANENT, EXIT_DATAERR, h,
			    "datacontenttype is not a valid header value; nothing sent");
	if (oom || add_extra(h, extra, nextra) != 0)
		return fail(err, CEHTTP_RETRY, EXIT_SOFTWARE, h, "out of memory; nothing sent");
	return perform(h, data, data_len, out, err);
}

static cehttp_result send_json(cehttp *h, const char *ct, const void *body, size_t len,
			       const cehttp_header *extra, size_t nextra, cehttp_outcome *out,
			       errinfo *err)
{
	size_t which;
	const char *bad = bad_extra(extra, nextra, &which);
	if (bad) {
		char msg[160];
		snprintf(msg, sizeof msg, "extra header %zu: %s; nothing sent", which + 1, bad);
		return fail(err, CEHTTP_PERMANENT, EXIT_DATAERR, h, msg);
	}
	hdr_reset(h);
	if (hdr_add(h, "Expect:") || hdr_add(h, ct) || add_extra(h, extra, nextra))
		return fail(err, CEHTTP_RETRY, EXIT_SOFTWARE, h, "out of memory; nothing sent");
	return perform(h, body, len, out, err);
}

cehttp_result cehttp_send_structured(cehttp *h, const char *json, size_t json_len,
				     const cehttp_header *extra, size_t nextra,
				     cehttp_outcome *out, errinfo *err)
{
	return send_json(h, ct_structured, json, json_len, extra, nextra, out, err);
}

cehttp_result cehttp_send_batch(cehttp *h, const cehttp_span *events, size_t n,
				const cehttp_header *extra, size_t nextra,
				cehttp_outcome *out, errinfo *err)
{
	buf_reset(&h->body);
	int oom = buf_putc(&h->body, '[');
	for (size_t i = 0; i < n && !oom; i++)
		oom = (i && buf_putc(&h->body, ',')) || buf_append(&h->body, events[i].data, events[i].len);
	if (oom || buf_putc(&h->body, ']'))
		return fail(err, CEHTTP_PERMANENT, EXIT_DATAERR, h,
			    "batch larger than 256 MiB (or out of memory); nothing sent");
	return send_json(h, ct_batch, h->body.data, h->body.len, extra, nextra, out, err);
}
