/* cekafka.h - the CloudEvents Kafka protocol binding (1.0.2), both ways.
 *
 * Ownership: nothing here allocates for the caller to free. cekafka_encode
 * fills a cekafka_msg whose pointers point into the caller's event text or
 * into the caller's scratch buf; they stay valid until that text changes
 * or scratch is modified (the next cekafka_encode into it included). The
 * hop header added by cekafka_hop_headers lives in the cekafka_msg itself.
 * cekafka_decode appends to the caller's out buf; the tracestate span in
 * cekafka_info points into the caller's header array.
 *
 * Changes from the lead's sketched interface: cekafka_msg also carries the
 * hop traceparent text (hop_traceparent); cekafka_encode resets scratch
 * itself; cekafka_hop_headers takes the msg (it reads the event's trace
 * context from it) and optionally returns the hop's context; value is NULL
 * exactly when the event has no data (present but empty data gives a
 * non-NULL value of length 0); m->mode says which mode was used (see the
 * application/cloudevents rule below); cekafka_binary_lossless() states
 * the round-trip rule below as code.
 *
 * Encoding (event -> Kafka message), from one event in the JSON format:
 * one ce_parse pass validates it fully (a bad event gives EXIT_DATAERR,
 * "ATTRIBUTE: reason"); nothing is allocated once scratch has grown to the
 * event's size.
 *  - Binary mode: value = the data bytes (data_base64 decoded; a data
 *    string under a non-JSON datacontenttype decoded; other data as its
 *    compact JSON text); no data gives a NULL value (a Kafka null value, a
 *    tombstone on a compacted topic, as the binding says). Headers:
 *    ce_specversion, ce_id, ce_source, ce_type, ce_subject, ce_time,
 *    content-type (= datacontenttype, absent when it is), ce_dataschema,
 *    then ce_<extension> in the event's order (sorted by name for a
 *    canonical event). Values are the attributes' canonical strings in
 *    UTF-8: strings decoded from their JSON escapes, integers in decimal as
 *    written, booleans true/false. No percent-encoding: the Kafka binding
 *    (unlike HTTP) says only that header values are UTF-8 strings.
 *    An event whose datacontenttype starts with application/cloudevents
 *    (an event carrying an event) is sent in structured mode even when
 *    binary is asked for: in binary mode its content-type header would
 *    make every receiver read the data as the event (m->mode tells).
 *  - Structured mode: value = the event in canonical JSON (the input
 *    itself when it already is canonical, else a canonical copy in
 *    scratch); one header content-type: application/cloudevents+json;
 *    charset=UTF-8.
 *  - Both modes report the partitionkey extension decoded (key: the
 *    relay may use it or the outbox row's partition_key), the traceparent
 *    and tracestate extensions decoded, and the decoded type. The event's
 *    own ce_traceparent header is never rewritten.
 *
 * Decoding (Kafka message -> event): mode per message. A content-type
 * header (name matched case-insensitively: content-type only, ce_ names
 * are matched exactly as the binding writes them, lower case) whose value
 * starts with "application/cloudevents" (case-insensitive) is structured:
 * only application/cloudevents+json (with parameters) is accepted, the
 * batch format and other event formats are EXIT_DATAERR; ce_ headers
 * beside a structured value are ignored (the binding allows them).
 * Otherwise the message is binary when it has ce_ headers (all of
 * ce_specversion, ce_id, ce_source and ce_type must then be present), else
 * it is not a CloudEvent (EXIT_DATAERR). Binary details:
 *  - a header value must be valid UTF-8 free of control characters (C0,
 *    DEL, C1); a NULL header value counts as the empty string;
 *  - an attribute header appearing twice, two content-type headers, or a
 *    ce_ name that is not a valid attribute name is EXIT_DATAERR;
 *  - datacontenttype comes from content-type; ce_datacontenttype (written
 *    by some SDKs besides content-type) is used only when content-type is
 *    absent, and ignored otherwise;
 *  - data: a NULL or empty value means no data; else with a JSON (or no)
 *    content type and a value that is valid JSON, data is that JSON
 *    (compacted); else with a text/ content type and valid UTF-8, data is
 *    that text as a JSON string; else data_base64;
 *  - extension values arrive as text and stay JSON strings;
 *  - other headers (e.g. Spring's contentType, id, timestamp) are ignored.
 * The result is validated by ce_parse and appended in canonical form
 * (exactly what cloudevent-wrap --validate prints for it).
 *
 * Round trip: structured mode is lossless (decode(encode(E)) == E byte for
 * byte for every canonical event E). Binary mode is lossless except:
 *  1. integer and boolean extensions come back as strings ("7", "true");
 *  2. a string (attribute, extension, or data sent as text) whose JSON
 *     token escapes differently from json_string_encode (e.g. "\u00e9" for
 *     "é", "\/" for "/") comes back with the same value, re-escaped;
 *  3. data_base64 of no bytes, and a data string that is empty under a
 *     non-JSON datacontenttype, come back as no data;
 *  4. data_base64 whose bytes are valid JSON under a JSON (or no)
 *     datacontenttype comes back as data (that JSON, compacted), and under
 *     a text/ datacontenttype, if the bytes are UTF-8, as a data string;
 *  5. data under a non-JSON datacontenttype other than a JSON string comes
 *     back as a data string (text/ types) or as data_base64 of its JSON
 *     text; a data string under a non-JSON, non-text/ datacontenttype comes
 *     back as data_base64 of its bytes.
 * (An event sent structured instead of binary, see above, is lossless.)
 * cekafka_binary_lossless() answers this list for one event.
 */
#ifndef CEKAFKA_H
#define CEKAFKA_H

#include <stddef.h>

#include "buf.h"
#include "cloudevent.h"
#include "diag.h"
#include "traceparent.h"

/* 8 context attributes (datacontenttype as content-type), every extension,
 * and the two hop headers. */
#define CEKAFKA_MAX_HEADERS (8 + CE_MAX_EXTENSIONS + 2)

#define CEKAFKA_STRUCTURED_CT "application/cloudevents+json; charset=UTF-8"

enum cekafka_mode { CEKAFKA_BINARY = 0, CEKAFKA_STRUCTURED };

typedef struct cekafka_header {
	const char *name;
	size_t name_len;
	const char *value; /* never NULL from cekafka_encode */
	size_t value_len;
} cekafka_header;

typedef struct cekafka_msg {
	cekafka_header h[CEKAFKA_MAX_HEADERS];
	size_t n_headers;
	const void *value; /* NULL: no data (Kafka null value) */
	size_t value_len;
	const char *key; /* partitionkey decoded; NULL when absent */
	size_t key_len;
	/* the event's trace context extensions, decoded; NULL when absent */
	const char *traceparent;
	size_t traceparent_len;
	const char *tracestate;
	size_t tracestate_len;
	const char *type; /* decoded type, for routing */
	size_t type_len;
	const char *id, *source; /* decoded, for checks against stored columns */
	size_t id_len, source_len;
	enum cekafka_mode mode; /* the mode used: see cekafka_encode */
	char hop_traceparent[TRACEPARENT_LEN + 1]; /* set by cekafka_hop_headers */
	/* Set by cekafka_encode: traceparent and tracestate as ce_parse
	 * validated them (W3C Trace Context). cekafka_hop_headers skips
	 * checking them again only while the fields above still equal these,
	 * so a message edited in between is checked as usual. */
	const char *checked_traceparent, *checked_tracestate;
	size_t checked_traceparent_len, checked_tracestate_len;
} cekafka_msg;

/* Encode the event in event[0..len) (one CloudEvent in the JSON format)
 * into m. scratch is reset and used for decoded values; its maximum must
 * allow 2 * len + 80 bytes (reserved up front so that it never moves while
 * pointers into it are handed out). 0; EXIT_DATAERR with err
 * "ATTRIBUTE: reason" (or a JSON error) for an invalid event;
 * EXIT_SOFTWARE when scratch cannot grow. */
int cekafka_encode(cekafka_msg *m, const char *event, size_t len, enum cekafka_mode mode,
		   buf *scratch, errinfo *err);

/* Append the relay's hop headers to an encoded m: "traceparent" = a child
 * of the event's traceparent extension (same trace-id and flags, new
 * parent-id), or a new root when the event has none or an invalid one;
 * "tracestate" = the event's tracestate extension, only with a valid
 * traceparent and when tracestate_check accepts it. Call once per encode.
 * hop (may be NULL) receives the hop's context. 0, or EXIT_SOFTWARE
 * (no random bytes; no room, which cannot happen after cekafka_encode). */
int cekafka_hop_headers(cekafka_msg *m, traceparent *hop, errinfo *err);

typedef struct cekafka_info {
	enum cekafka_mode mode;
	/* The hop's W3C context from the plain traceparent/tracestate headers
	 * (names in any case), filled also when the message is rejected; an
	 * invalid or repeated header counts as absent, and tracestate is kept
	 * only with a valid traceparent. mode is set once it is known. */
	int has_traceparent;
	traceparent traceparent;
	const char *tracestate; /* into the caller's header; NULL when absent */
	size_t tracestate_len;
	/* Set on success: the event's decoded id and source, pointing into
	 * the caller's header values (binary) or value (structured); NULL
	 * when a structured value writes them with escapes (decode them from
	 * the event then). */
	const char *id, *source;
	size_t id_len, source_len;
} cekafka_info;

/* Decode one Kafka message (headers h[0..n), value[0..value_len), value
 * NULL for a null value) and append the event in canonical JSON (no
 * newline) to out. info may be NULL. 0; EXIT_DATAERR with err naming the
 * header at fault (out unchanged); EXIT_SOFTWARE when out is full. */
int cekafka_decode(const cekafka_header *h, size_t n, const void *value, size_t value_len,
		   buf *out, cekafka_info *info, errinfo *err);

/* 1 if binary mode (cekafka_encode, then cekafka_decode) gives back the
 * canonical form of the parsed event ev byte for byte: ev is not in the
 * list above. Allocates and frees temporaries: for tests and diagnostics,
 * not for the hot path. */
int cekafka_binary_lossless(const cloudevent *ev);

#endif
