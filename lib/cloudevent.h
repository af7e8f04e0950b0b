/* cloudevent.h - CloudEvents 1.0 model, JSON-format codec and validator.
 *
 * ce_parse() does not copy: a cloudevent holds spans into the caller's text
 * and is valid as long as that text is. Attribute values are kept as raw
 * JSON tokens (a string keeps its quotes and escapes); use ce_attr_value()
 * to get decoded bytes. Nothing here allocates except what appends to a
 * caller's buf.
 *
 * Validation follows CloudEvents 1.0 (JSON format) exactly:
 *  - the event is a JSON object; no attribute may appear twice (names are
 *    compared decoded, so "id" and "\u0069d" are the same);
 *  - specversion, id, source, type are required non-empty strings, and
 *    specversion must be "1.0"; null for one of them counts as missing;
 *  - optional attributes (extensions too) given as null are absent;
 *    "data": null means no data;
 *  - every String attribute is free of U+0000-001F, U+007F-009F and
 *    Unicode noncharacters (CloudEvents type system);
 *  - subject, datacontenttype, dataschema are non-empty strings;
 *    datacontenttype is an RFC 2046 media type (type/subtype with optional
 *    ;parameters), dataschema an absolute URI (a scheme is checked), source
 *    a URI-reference (non-empty is what is checked); time is an RFC 3339
 *    timestamp (timefmt.h), kept with its given precision;
 *  - extension names are [a-z0-9]+ (at most 20 characters recommended by
 *    the spec: longer names are accepted), values are strings, booleans or
 *    integers (JSON numbers without fraction or exponent, within
 *    -2^31..2^31-1); more than CE_MAX_EXTENSIONS extensions are rejected,
 *    and so is a name written with escapes that decodes to over 256 bytes;
 *  - data and data_base64 are mutually exclusive; data_base64 is a string of
 *    valid base64 (RFC 4648, padded);
 *  - the distributed-tracing extension: traceparent, when present, is a
 *    string holding a valid W3C traceparent (traceparent.h: all-zero ids
 *    and version ff refused), tracestate a valid W3C tracestate; anything
 *    else is rejected ("not a valid W3C traceparent"), because the relay
 *    would put it on the wire as a header.
 * A rejection names the attribute at fault (err->attribute), decoded, at
 * most 63 bytes, control characters shown as '?'. An input that is not
 * JSON, or not an object, leaves err->attribute "" and says at which byte
 * (counted from 1, as in every message of the tools) the JSON
 * breaks. When several attributes are wrong, a bad specversion is reported
 * first, else the first problem in input order, else a missing attribute.
 */
#ifndef CLOUDEVENT_H
#define CLOUDEVENT_H

#include <stddef.h>

#include "buf.h"
#include "diag.h"
#include "json.h"

#define CE_MAX_EXTENSIONS 64

typedef struct ce_attr {
	json_span name;      /* raw key token, with quotes */
	json_span value;     /* raw value token; value.p == NULL when absent */
	enum json_type type; /* JSON_STRING, JSON_NUMBER, JSON_TRUE, JSON_FALSE */
} ce_attr;

enum ce_data_kind {
	CE_DATA_NONE = 0,
	CE_DATA_JSON,   /* "data": any JSON value (a string stays a token) */
	CE_DATA_BASE64  /* "data_base64": string token of base64 text */
};

typedef struct cloudevent {
	ce_attr specversion, id, source, type;      /* required */
	ce_attr subject, time, datacontenttype, dataschema;
	ce_attr ext[CE_MAX_EXTENSIONS];             /* in input order */
	size_t n_ext;
	enum ce_data_kind data_kind;
	json_span data;      /* raw value (data) or raw string token (data_base64) */
	enum json_type data_type;
	/* Shortcuts ce_parse leaves for ce_write_json; {NULL, 0} when they do
	 * not apply. Both only ever save work: ce_write_json uses them after
	 * checking that the event still refers to that very text, so an event
	 * edited after ce_parse is written correctly (the long way) even if
	 * these are left stale. An event built by hand must set them to
	 * {NULL, 0} (e.g. by zeroing the whole struct).
	 *  canonical: the input object (braces included) when it is already
	 *    exactly what ce_write_json writes: no whitespace inside, no
	 *    escapes in names, no null members, core attributes in canonical
	 *    order, then extensions in strictly increasing name order, then
	 *    data or data_base64. ce_write_json then copies it in one go.
	 *  data_compact: equal to data when data holds no insignificant
	 *    whitespace, so it can be copied without a json_is_compact pass. */
	json_span canonical;
	json_span data_compact;
} cloudevent;

typedef struct ce_error {
	char attribute[64]; /* attribute at fault, "" when about the whole line */
	char text[256];     /* e.g. "required attribute missing" */
} ce_error;

/* Parse and validate one event from text[0..len) (surrounding whitespace
 * allowed). 0 on success, -1 with err filled (err may be NULL). One pass,
 * no allocation. Entries of ev->ext past ev->n_ext are not touched. */
int ce_parse(cloudevent *ev, const char *text, size_t len, ce_error *err);

/* ce_parse() for tools: on failure returns EXIT_DATAERR with err's text
 * "ATTRIBUTE: reason" (or the reason alone when it concerns the whole
 * line); 0 on success. */
int ce_parse_line(cloudevent *ev, const char *text, size_t len, errinfo *err);

/* Append ev as one compact JSON object (no newline) in canonical order:
 * specversion, id, source, type, subject, time, datacontenttype,
 * dataschema, extensions sorted by name, then data or data_base64. Values
 * are copied as their tokens (string escapes kept as given); data is
 * compacted. 0, or -1 if out is full. */
int ce_write_json(const cloudevent *ev, buf *out);

/* Append the decoded value of an attribute (strings unescaped, other types
 * as their JSON text). 0, or -1 if out is full. */
int ce_attr_value(const ce_attr *a, buf *out);

/* Find an extension by (unquoted) name; NULL when absent. */
const ce_attr *ce_find_extension(const cloudevent *ev, const char *name);

/* CloudEvents String rules (no U+0000-001F, U+007F-009F, noncharacters),
 * for values a tool is about to write:
 * ce_string_token_valid: 1 if a validated JSON string token decodes to a
 * valid String. ce_string_invalid_at: for raw bytes s[0..n), the offset
 * of the first byte that is not valid UTF-8 or starts a character a String
 * may not hold; n when all is well. */
int ce_string_token_valid(json_span tok);
size_t ce_string_invalid_at(const char *s, size_t n);

/* 1 if name is a valid extension name: [a-z0-9]+ and not a context
 * attribute or "data"/"data_base64". */
int ce_extension_name_valid(const char *name, size_t len);

/* 1 if a datacontenttype means JSON data: absent, application/json,
 * text/json, or any type with a "+json" suffix (parameters ignored,
 * case-insensitive). */
int ce_content_type_is_json(const char *ct, size_t len);

/* 1 when s[0..n) is a JSON object already in the form ce_write_json
 * writes data in, in its simplest shape: one level, no whitespace, plain
 * strings (no escapes, ASCII), numbers, true, false, null. A decoder can
 * copy such data as it is, without a parse and a compaction. 0 says
 * nothing: the caller parses. */
int ce_json_flat_compact(const char *s, size_t n);

/* Append the payload an --unwrap would print: data as JSON text (compact)
 * when data is JSON; the decoded string when data is a string and the
 * content type is not JSON; decoded bytes of data_base64. Nothing for an
 * event without data. 0, or -1 if out is full. */
int ce_data_bytes(const cloudevent *ev, buf *out);

/* JSON batches (application/cloudevents-batch+json): a JSON array of
 * events.
 *   ce_batch b; if (ce_batch_begin(&b, text, len, &err) != 0) ...
 *   while ((r = ce_batch_next(&b, &ev, &err)) == 1) ...
 * ce_batch_begin validates the whole text as JSON and checks it is an
 * array (an empty one is a valid, empty batch). ce_batch_next parses the
 * next element: 1 with *ev set, 0 after the last, -1 with err filled (the
 * text starts "batch element N: ", N counted from 1; b->index is N). The
 * iteration may go on after an error. The text must outlive b and ev. */
typedef struct ce_batch {
	json_iter it;
	size_t index; /* 1-based index of the element last returned */
} ce_batch;
int ce_batch_begin(ce_batch *b, const char *text, size_t len, ce_error *err);
int ce_batch_next(ce_batch *b, cloudevent *ev, ce_error *err);

#endif
