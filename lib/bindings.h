/* bindings.h - the routing table: event type -> binding -> Kafka topic.
 *
 * Ownership: a bindings table owns all of its memory, including every
 * binding and every string a binding points to; they stay valid until
 * bindings_free(). Nothing a table hands out is to be freed by the caller.
 * Functions that take a buf only append to it; the caller owns the buf.
 * The table is immutable once loaded, so readers need no locking.
 *
 * The file format is documented in man/event-bindings.5:
 *
 *   # comment
 *   producer EVENT-TYPE BINDING TOPIC [mode=binary|structured] [key=RULE]
 *   consumer BINDING TOPIC GROUP
 *
 * The built-in defaults are text in that format, parsed by the same parser.
 * Resolving an event type is one hash lookup (the table is built once at
 * load time); nothing is parsed per event.
 */
#ifndef BINDINGS_H
#define BINDINGS_H

#include <stddef.h>

#include "buf.h"
#include "cloudevent.h"
#include "diag.h"

/* Limits, all documented in event-bindings(5). */
#define BINDINGS_MAX_FILE (16u * 1024 * 1024) /* bytes in one file */
#define BINDINGS_MAX_LINE 8192u               /* bytes in one line */
#define BINDINGS_MAX_COUNT (1u << 20)         /* bindings in one file */
#define BINDINGS_MAX_TYPE 1024u               /* bytes in an event type */
#define BINDINGS_MAX_NAME 255u                /* binding name, group */
#define BINDINGS_MAX_TOPIC 249u               /* Kafka's own limit */

/* The name bindings_source() gives the built-in table. */
#define BINDINGS_BUILTIN_NAME "(built-in)"

enum binding_kind { BINDING_PRODUCER = 0, BINDING_CONSUMER = 1 };

enum binding_mode { BINDING_MODE_BINARY = 0, BINDING_MODE_STRUCTURED = 1 };

enum binding_key {
	BINDING_KEY_PARTITIONKEY = 0, /* the partitionkey extension, if any */
	BINDING_KEY_SUBJECT,          /* the subject attribute, if any */
	BINDING_KEY_ID,               /* the id attribute */
	BINDING_KEY_DATA,             /* a JSON Pointer into JSON data */
	BINDING_KEY_NONE              /* never a key */
};

typedef struct binding {
	enum binding_kind kind;
	const char *event_type;   /* producer: the CloudEvents type; else NULL */
	size_t event_type_len;
	const char *name;         /* binding name, e.g. "fooProducer-out-0" */
	const char *topic;        /* destination topic */
	const char *group;        /* consumer: group id; else NULL */
	enum binding_mode mode;   /* producer only */
	enum binding_key key;     /* producer only */
	const char *key_pointer;  /* BINDING_KEY_DATA: the JSON Pointer */
	const char *key_rule;     /* the rule as written: "partitionkey", "data:/a" */
	unsigned long line;       /* line in its source (1-based) */
} binding;

typedef struct bindings bindings;

/* Report callback for bindings_load_report(): severity is one of the
 * values below; file and line say where (line 0: about the whole file). */
enum { BINDINGS_WARNING = 0, BINDINGS_ERROR = 1 };
typedef void bindings_report_fn(void *arg, int severity, const char *file,
				unsigned long line, const char *msg);

/* Load a table. path: a file ("-" = stdin); NULL = $EVENT_BINDINGS when set
 * and non-empty, else the built-in defaults. On failure returns NULL with
 * err set: EXIT_NOINPUT (file missing), EXIT_NOPERM, EXIT_IOERR (also a
 * directory), or
 * EXIT_CONFIG for an error in the file, whose message starts "FILE:LINE: "
 * (the first error). EXIT_SOFTWARE when out of memory. */
bindings *bindings_load(const char *path, errinfo *err);

/* Like bindings_load, and also hands every error (not only the first) and
 * every warning (a producer topic no consumer binding reads, topics that
 * collide in Kafka's metric names) to fn. fn may be NULL. */
bindings *bindings_load_report(const char *path, bindings_report_fn *fn,
			       void *arg, errinfo *err);

/* Parse text[0..len) as a bindings file called name (for messages). */
bindings *bindings_parse(const char *text, size_t len, const char *name,
			 bindings_report_fn *fn, void *arg, errinfo *err);

/* The built-in defaults, as bindings-file text (NUL-terminated). */
const char *bindings_defaults_text(void);

void bindings_free(bindings *t);

/* Where the table came from: the path, "<stdin>", or BINDINGS_BUILTIN_NAME. */
const char *bindings_source(const bindings *t);

/* All bindings in file order: i in [0, bindings_count(t)). */
size_t bindings_count(const bindings *t);
const binding *bindings_at(const bindings *t, size_t i);

/* The producer binding for an event type, or NULL when there is none
 * ("none" is an answer, not an error: the caller decides). O(1) average. */
const binding *bindings_resolve(const bindings *t, const char *type, size_t len);

/* A binding by name (producer or consumer), or NULL. O(1) average. When
 * several event types share one producer binding, the first is returned. */
const binding *bindings_find(const bindings *t, const char *name);

/* The Kafka message key a relay uses for ev under producer binding b:
 * returns 1 with the key appended to out, 0 when the message has no key
 * (nothing appended), -1 if out is full. Rules:
 *   partitionkey  the partitionkey extension's value, else no key;
 *   subject       the subject attribute, else no key;
 *   id            the id attribute;
 *   data:PTR      the value PTR points at in JSON data: a string gives its
 *                 decoded text, a number/true/false its JSON text; null,
 *                 objects, arrays, a missing target or non-JSON data
 *                 (data_base64) give no key;
 *   none          no key.
 * Extension values that are integers or booleans give their JSON text. */
int bindings_key(const binding *b, const cloudevent *ev, buf *out);

const char *bindings_mode_name(enum binding_mode m);

/* 1 if s[0..n) is a valid Kafka topic name: [a-zA-Z0-9._-]{1,249}, not
 * "." or "..". */
int bindings_topic_valid(const char *s, size_t n);
/* 1 if s[0..n) is a valid binding name: [a-zA-Z0-9._-]{1,255}. */
int bindings_name_valid(const char *s, size_t n);

/* Import from a Spring Cloud Stream application.yml (lib/bindings_yaml.c):
 * read the spring.cloud.stream.bindings section with libyaml and append
 * the equivalent bindings file to out. A binding NAME-out-N is a producer
 * whose event type is derived from its function name (fooEventProducer ->
 * FooEvent); NAME-in-N with a group is a consumer; others are skipped with
 * a warning to fn. The result is checked by parsing it. Returns 0, or an
 * exit code with err set: EXIT_NOINPUT/NOPERM/IOERR for the file,
 * EXIT_DATAERR for YAML that is invalid or unusable ("FILE:LINE: ..."). */
#define BINDINGS_MAX_YAML (16u * 1024 * 1024)
int bindings_import_spring(const char *path, buf *out, bindings_report_fn *fn,
			   void *arg, errinfo *err);
int bindings_import_spring_text(const char *text, size_t len, const char *name,
				buf *out, bindings_report_fn *fn, void *arg, errinfo *err);

/* Read a whole file (path "-" = stdin) and append it to out: at most max
 * bytes, else too_large is the code. out's own maximum must leave room for
 * max + 1 more bytes. name is what messages call the file. On failure out
 * is unchanged and the code (EXIT_NOINPUT, EXIT_NOPERM, EXIT_IOERR,
 * too_large) is returned with err set. */
int bindings_read_file(const char *path, const char *name, size_t max, int too_large,
		       buf *out, errinfo *err);

#endif
