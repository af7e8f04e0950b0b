/* json.h - a strict, allocation-free JSON (RFC 8259) scanner.
 *
 * The tools never build a tree for the hot path: they validate a value and
 * keep spans (pointer + length) into the caller's text. Nothing here
 * allocates except the functions that append to a caller's buf. Spans point
 * into the caller's text and live as long as it does.
 *
 * Strictness: exactly RFC 8259. No comments, no trailing commas, no NaN,
 * no leading zeros, no raw control characters in strings, strings must be
 * valid UTF-8 (checked), \u escapes must pair surrogates correctly. Nesting
 * deeper than JSON_MAX_DEPTH is rejected. Duplicate object keys are allowed
 * by the scanner (callers that care, such as the CloudEvent codec, check).
 */
#ifndef JSON_H
#define JSON_H

#include <stddef.h>

#include "buf.h"

#define JSON_MAX_DEPTH 256

enum json_type {
	JSON_INVALID = 0,
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING, /* span includes the quotes */
	JSON_ARRAY,
	JSON_OBJECT
};

typedef struct json_span {
	const char *p;
	size_t n;
} json_span;

typedef struct json_error {
	size_t offset;    /* byte offset of the fault in the scanned text */
	const char *what; /* static English text, e.g. "unterminated string" */
} json_error;

/* Validate that text[0..len) is exactly one JSON value, optionally
 * surrounded by whitespace. On success returns 0 and sets *value (the value
 * without surrounding whitespace) and *type. On failure returns -1 and
 * fills *err (err may be NULL). */
int json_parse_value(const char *text, size_t len, json_span *value,
		     enum json_type *type, json_error *err);

/* Validate the one JSON value that starts at text[*pos] (after optional
 * whitespace) and stop right after it; what follows is not validated. On
 * success returns 0, sets *value and *type (either may be NULL) and moves
 * *pos just past the value. On failure returns -1 and fills *err (err may
 * be NULL; offsets count from text, not from *pos). This is the building
 * block for callers that walk a document themselves, validating and
 * extracting in one pass (the CloudEvent codec does). */
int json_scan(const char *text, size_t len, size_t *pos, json_span *value,
	      enum json_type *type, json_error *err);

/* json_scan that also reports, in *flags, what the strings inside the
 * value (keys included) hold, so callers can skip re-reading them: */
#define JSON_SCAN_ESCAPES 1u  /* some string has a backslash escape */
#define JSON_SCAN_NONASCII 2u /* some string has a byte >= 0x80 */
int json_scan_flags(const char *text, size_t len, size_t *pos, json_span *value,
		    enum json_type *type, unsigned *flags, json_error *err);
/* json_scan_flags that may also set, in *flags:
 * JSON_SCAN_WHITESPACE: the value holds insignificant whitespace between
 * its tokens (whitespace before or after the value does not count), so
 * json_is_compact() would say 0. Callers that write the value compacted
 * later can then skip that second pass. */
#define JSON_SCAN_WHITESPACE 4u
int json_scan_flags_ws(const char *text, size_t len, size_t *pos, json_span *value,
		       enum json_type *type, unsigned *flags, json_error *err);

/* Type of an already-validated value span, from its first byte. */
enum json_type json_type_of(json_span v);

/* Iterate the members of a validated object span:
 *   json_iter it; json_object_begin(&it, obj);
 *   while (json_object_next(&it, &key, &val, &type)) ...
 * key is the raw string token (with quotes). Returns 1 per member, 0 at the
 * end. Arrays likewise with json_array_next (no key). The iterators trust
 * that the span was validated, but never read outside it. */
typedef struct json_iter {
	const char *p;
	const char *end;
} json_iter;
void json_object_begin(json_iter *it, json_span obj);
int json_object_next(json_iter *it, json_span *key, json_span *val, enum json_type *type);
void json_array_begin(json_iter *it, json_span arr);
int json_array_next(json_iter *it, json_span *val, enum json_type *type);

/* RFC 6901 JSON Pointer. json_pointer_check: 0 if ptr is a syntactically
 * valid pointer ("" or "/a/b", "~0" and "~1" escapes only), else -1.
 * json_pointer_find: look ptr up in a validated value; 1 found (sets *val,
 * *type), 0 not found, -1 invalid pointer. Array indexes are decimal
 * without leading zeros; "-" never matches. */
int json_pointer_check(const char *ptr);
/* With duplicate keys, the first member with the name is found. */
int json_pointer_find(json_span doc, const char *ptr, json_span *val, enum json_type *type);
/* Every value ptr can mean in a validated doc: with duplicate object keys
 * anywhere on the path, a reader that keeps the first member and one that
 * keeps the last see different values, so each of them is visited (in
 * document order), at every level. fn returns 0 to go on, nonzero to
 * stop. Returns the number of values visited, -1 for an invalid pointer,
 * -2 when fn stopped the walk. No allocation; the recursion is bounded by
 * the document's nesting, not by the pointer's length. */
typedef int (*json_each_fn)(void *ctx, json_span val, enum json_type type);
long json_pointer_each(json_span doc, const char *ptr, json_each_fn fn, void *ctx);

/* Strings. tok is a validated string token including its quotes. */
int json_string_is_plain(json_span tok); /* 1 if it holds no backslash */
/* Append the decoded bytes of tok to out (\u escapes as UTF-8; the result
 * may hold NUL bytes from \u0000). 0, or -1 if out is full. */
int json_string_decode(json_span tok, buf *out);
/* Decode tok into dst[0..cap) (no NUL added). Returns the decoded length,
 * or (size_t)-1 when it does not fit (dst then holds a prefix). A decoded
 * string is never longer than its token minus the quotes. */
size_t json_string_decode_fixed(json_span tok, char *dst, size_t cap);
/* Walk the code points of tok: start with *pos = 0; each call returns the
 * next code point (0..0x10FFFF) and advances *pos (a byte offset into the
 * token's body), or returns -1 at the end. */
long json_string_next_cp(json_span tok, size_t *pos);
/* Compare a string token with a C string, decoding escapes: 1 if equal. */
int json_string_equals(json_span tok, const char *s);
/* Append s[0..n) as a JSON string token (quotes, escapes: \" \\ \b \f \n
 * \r \t, \u00XX for other controls; other bytes copied). s must be valid
 * UTF-8 (the caller checks). 0 or -1 if out is full. */
int json_string_encode(buf *out, const char *s, size_t n);

/* Append a validated value without insignificant whitespace. 0 or -1. */
int json_compact(json_span v, buf *out);
/* 1 if a validated value span holds no insignificant whitespace. */
int json_is_compact(json_span v);

#endif
