/* cehttp.h - deliver CloudEvents over HTTP (CloudEvents HTTP protocol
 * binding 1.0.2) with libcurl: binary, structured and batched modes.
 *
 * Ownership: a cehttp handle owns its CURL easy handle (and so its open
 * connection), a copy of the URL and its scratch buffers; cehttp_free()
 * releases them all. Nothing a send function is given is kept after it
 * returns: attributes, data, event JSON and extra headers are only read
 * during the call and may be reused at once. cehttp_url() returns the
 * handle's redacted URL, valid until cehttp_free(). cehttp_redact_url() and
 * cehttp_pct_encode() write into storage the caller owns.
 *
 * Threads: a handle belongs to one thread at a time. The first cehttp_new()
 * calls curl_global_init(); make it before starting other threads that use
 * libcurl.
 *
 * Delivery is one HTTP request per send (POST by default); the handle keeps
 * the connection open between sends (HTTP keep-alive). Redirects are not
 * followed (a 3xx is an answer, not a delivery); "Expect: 100-continue" is
 * never sent; libcurl never raises signals (CURLOPT_NOSIGNAL); TLS uses
 * libcurl's defaults (peer and host verified); only http and https URLs.
 *
 * Results. Every send returns a cehttp_result and fills an errinfo (when
 * given) whose code is the exit status a tool would use:
 *   2xx                               CEHTTP_OK         0
 *   408, 429                          CEHTTP_RETRY      75
 *   5xx                               CEHTTP_RETRY      69
 *   transport (refused, DNS, timeout,
 *     TLS, reset)                     CEHTTP_RETRY      69
 *   401, 403                          CEHTTP_PERMANENT  77, outcome.auth = 1
 *   3xx (redirects are not followed)  CEHTTP_PERMANENT  78
 *   other 4xx, 1xx                    CEHTTP_PERMANENT  65
 *   event not representable (bad
 *     attribute name, CR/LF in an
 *     extra header), nothing sent     CEHTTP_PERMANENT  65
 *   out of memory, nothing sent       CEHTTP_RETRY      70
 * PERMANENT means "this request will never be accepted as it is". A 401,
 * 403 or 3xx is PERMANENT for the request but is not the event's fault: a
 * caller should stop and report (77, 78) rather than mark events dead.
 * Messages name the method and the URL with its userinfo and query string
 * replaced by "***" (cehttp_redact_url), e.g. "POST URL: HTTP 503
 * (Retry-After: 5)"; they never carry a password or a query string.
 */
#ifndef CEHTTP_H
#define CEHTTP_H

#include <stddef.h>

#include "buf.h"
#include "diag.h"

/* One CloudEvents attribute: name without the "ce-" prefix ("id",
 * "source", "traceparent"), value as the decoded canonical string bytes
 * (UTF-8, not percent-encoded, not JSON-escaped). Names must be [a-z0-9]+. */
typedef struct cehttp_attr {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
} cehttp_attr;

/* A plain HTTP header sent as given (e.g. the hop's "traceparent"): name a
 * token (RFC 9110), value without CR, LF or NUL. NUL-terminated strings. */
typedef struct cehttp_header {
	const char *name;
	const char *value;
} cehttp_header;

/* One event's JSON text (canonical event JSON, one object). */
typedef struct cehttp_span {
	const char *data;
	size_t len;
} cehttp_span;

typedef enum cehttp_result {
	CEHTTP_OK = 0,        /* delivered (2xx) */
	CEHTTP_RETRY = 1,     /* try again later */
	CEHTTP_PERMANENT = 2  /* will not be accepted as it is */
} cehttp_result;

/* What the last send saw, besides the result. */
typedef struct cehttp_outcome {
	long status;          /* HTTP status; 0 when no response arrived */
	int auth;             /* 1 on 401 or 403: map to 77 */
	long retry_after;     /* seconds from Retry-After; -1 when absent/unusable */
	char retry_after_text[64]; /* the header value as sent (truncated); "" */
} cehttp_outcome;

typedef struct cehttp_options {
	const char *url;        /* http:// or https://, may hold user:password@ */
	const char *method;     /* NULL: "POST" */
	long connect_timeout_ms; /* 0: 10000 */
	long timeout_ms;        /* whole request; 0: 30000 */
} cehttp_options;

typedef struct cehttp cehttp;

/* A new handle for opt->url. 0 and *out set; EXIT_CONFIG for a URL that is
 * not http(s) or not parseable, or a bad method; EXIT_SOFTWARE when out of
 * memory or libcurl cannot start. Nothing is connected yet. */
int cehttp_new(cehttp **out, const cehttp_options *opt, errinfo *err);
void cehttp_free(cehttp *h);

/* Change the timeouts (ms; 0 keeps the default) for later sends. */
void cehttp_set_timeouts(cehttp *h, long connect_timeout_ms, long timeout_ms);

/* The URL with userinfo and query redacted, for messages. */
const char *cehttp_url(const cehttp *h);

/* Binary mode: one "ce-NAME" header per attribute (value percent-encoded),
 * "Content-Type: content_type" when content_type is not NULL (else the
 * value of a "datacontenttype" attribute, if any; a datacontenttype
 * attribute never becomes a ce- header), body = data bytes as given. */
cehttp_result cehttp_send_binary(cehttp *h, const cehttp_attr *attrs, size_t nattrs,
				 const void *data, size_t data_len, const char *content_type,
				 const cehttp_header *extra, size_t nextra,
				 cehttp_outcome *out, errinfo *err);

/* Structured mode: body = the event JSON as given,
 * "Content-Type: application/cloudevents+json; charset=UTF-8". */
cehttp_result cehttp_send_structured(cehttp *h, const char *json, size_t json_len,
				     const cehttp_header *extra, size_t nextra,
				     cehttp_outcome *out, errinfo *err);

/* Batched mode: body = "[" events joined by "," "]" (n may be 0),
 * "Content-Type: application/cloudevents-batch+json; charset=UTF-8".
 * The binding says batched mode must be solicited by the receiver: use it
 * only when the endpoint asks for it. */
cehttp_result cehttp_send_batch(cehttp *h, const cehttp_span *events, size_t n,
				const cehttp_header *extra, size_t nextra,
				cehttp_outcome *out, errinfo *err);

/* Append v percent-encoded per the binding (section 3.1.3.2): space, '"',
 * '%' and every byte outside 0x21-0x7E become %XX (upper-case hex); every
 * other byte is copied. 0, or -1 (b unchanged) when b cannot grow. */
int cehttp_pct_encode(buf *b, const char *v, size_t n);

/* Copy url into out (size outsz >= 1, always NUL-terminated, truncated if
 * needed) with userinfo replaced by "***" and a query string by "***";
 * a fragment is dropped. Works on scheme-less URLs ("user:pw@host/x") too. */
void cehttp_redact_url(const char *url, char *out, size_t outsz);

/* Parse a Retry-After value: delta-seconds or an HTTP-date (seconds from
 * now, at least 0). -1 when it is neither. Leading/trailing blanks allowed. */
long cehttp_parse_retry_after(const char *v, size_t n);

#endif
