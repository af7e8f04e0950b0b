/* traceparent.h - W3C Trace Context (traceparent / tracestate).
 *
 *   traceparent = 00-<32 lowercase hex trace-id>-<16 lowercase hex
 *                 parent-id>-<2 lowercase hex flags>
 * All-zero trace-id or parent-id is invalid, version "ff" is invalid.
 * For a version above 00 the first 55 characters are parsed as version 00
 * and anything after must begin with '-' (forward compatibility, per the
 * spec). The version is kept in tp but traceparent_format always writes
 * 00. Random ids come from rand_bytes (rand.h). No allocation.
 */
#ifndef TRACEPARENT_H
#define TRACEPARENT_H

#include <stddef.h>
#include <stdint.h>

#define TRACEPARENT_LEN 55
#define TRACESTATE_MAX_MEMBERS 32

typedef struct traceparent {
	uint8_t version;
	uint8_t trace_id[16];
	uint8_t parent_id[8];
	uint8_t flags;
} traceparent;

/* 0 if s[0..n) is a valid traceparent (fills tp), else -1. */
int traceparent_parse(traceparent *tp, const char *s, size_t n);
/* traceparent_parse's verdict without decoding (eight digits at a time),
 * for callers that only validate: 0 or -1. */
int traceparent_check(const char *s, size_t n);
/* Format as version 00, lowercase; out gets TRACEPARENT_LEN chars + NUL. */
void traceparent_format(const traceparent *tp, char out[TRACEPARENT_LEN + 1]);
/* New root: random trace-id and parent-id, flags 01 (sampled). 0 or -1. */
int traceparent_new_root(traceparent *tp);
/* Child span of parent: same trace-id and flags, new random parent-id. */
int traceparent_child(const traceparent *parent, traceparent *child);
/* traceparent_child then traceparent_format, for a parent given as text
 * that traceparent_parse accepted (at least TRACEPARENT_LEN characters;
 * not checked again): its trace-id and flags are copied as they stand,
 * which spares decoding them. 0, or -1 (no random bytes). */
int traceparent_child_text(const char *parent, char out[TRACEPARENT_LEN + 1]);
/* 0 if s[0..n) is a valid tracestate: 1..32 comma-separated list-members
 * key=value per the spec's grammar (empty members and optional whitespace
 * around commas allowed), keys unique. Else -1. Only non-empty members
 * count towards the 32; a value with nothing but empty members (or "")
 * gives -1, meaning "no tracestate": callers then drop it, which the spec
 * treats the same as an empty header. Leading and trailing whitespace of
 * the whole value is ignored, as HTTP does for header values. */
int tracestate_check(const char *s, size_t n);

#endif
