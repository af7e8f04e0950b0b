/* bindings.c - see bindings.h and man/event-bindings.5 */
#include "bindings.h"
#include "exitcode.h"
#include "json.h"
#include "ndjson.h"
#include "utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The seed's routing table. Kept in the file format and parsed by the same
 * parser as any file, so the defaults can never drift from what a file
 * would say. The seed's content-type is application/json: binary mode, the
 * data is the message value. */
static const char defaults_text[] =
	"# event-bindings built-in defaults (the wallet hub's bindings)\n"
	"producer WalletCreatedEvent     walletCreatedEventProducer-out-0     wallet-created-events\n"
	"producer FundsAddedEvent        fundsAddedEventProducer-out-0        funds-added-events\n"
	"producer FundsWithdrawnEvent    fundsWithdrawnEventProducer-out-0    funds-withdrawn-events\n"
	"producer FundsTransferredEvent  fundsTransferredEventProducer-out-0  funds-transferred-events\n"
	"consumer walletCreatedEventConsumer-in-0     wallet-created-events     wallet-hub-consumers\n"
	"consumer fundsAddedEventConsumer-in-0        funds-added-events        wallet-hub-consumers\n"
	"consumer fundsWithdrawnEventConsumer-in-0    funds-withdrawn-events    wallet-hub-consumers\n"
	"consumer fundsTransferredEventConsumer-in-0  funds-transferred-events  wallet-hub-consumers\n";

const char *bindings_defaults_text(void) { return defaults_text; }

/* ---- a small open-addressing string index ------------------------------
 * Slots hold binding index + 1 (0 = empty); the key lives in the binding
 * (or, for the temporary indexes used by warnings, is given by a getter).
 * Linear probing at load <= 1/2 keeps lookups O(1) on average. */

typedef struct strindex {
	uint32_t *slot;
	size_t mask; /* capacity - 1; capacity is a power of two */
	size_t used;
} strindex;

static uint64_t hash_bytes(const char *s, size_t n, int fold)
{
	/* FNV-1a: short keys, trusted input (a config file), no need for a
	 * keyed hash. fold maps '.' to '_' for Kafka's collision rule. */
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (fold && c == '.')
			c = '_';
		h ^= c;
		h *= 1099511628211ull;
	}
	return h;
}

static int bytes_equal(const char *a, size_t an, const char *b, size_t bn, int fold)
{
	if (an != bn)
		return 0;
	if (!fold)
		return memcmp(a, b, an) == 0;
	for (size_t i = 0; i < an; i++) {
		char x = a[i] == '.' ? '_' : a[i], y = b[i] == '.' ? '_' : b[i];
		if (x != y)
			return 0;
	}
	return 1;
}

typedef struct keyview {
	const char *p;
	size_t n;
} keyview;

typedef keyview key_of_fn(const binding *b);

static keyview key_type(const binding *b) { return (keyview){ b->event_type, b->event_type_len }; }
static keyview key_name(const binding *b) { return (keyview){ b->name, strlen(b->name) }; }
static keyview key_topic(const binding *b) { return (keyview){ b->topic, strlen(b->topic) }; }

static int strindex_init(strindex *x, size_t cap)
{
	x->slot = calloc(cap, sizeof *x->slot);
	x->mask = cap - 1;
	x->used = 0;
	return x->slot ? 0 : -1;
}

static void strindex_free(strindex *x)
{
	free(x->slot);
	x->slot = NULL;
}

/* Index of the binding whose key equals k, or SIZE_MAX. */
static size_t strindex_get(const strindex *x, const binding *v, key_of_fn *key,
			   const char *k, size_t n, int fold)
{
	if (!x->slot)
		return SIZE_MAX;
	size_t i = (size_t)hash_bytes(k, n, fold) & x->mask;
	for (;;) {
		uint32_t s = x->slot[i];
		if (s == 0)
			return SIZE_MAX;
		keyview kv = key(&v[s - 1]);
		if (bytes_equal(kv.p, kv.n, k, n, fold))
			return s - 1;
		i = (i + 1) & x->mask;
	}
}

static void strindex_place(strindex *x, const binding *v, key_of_fn *key, size_t idx, int fold)
{
	keyview kv = key(&v[idx]);
	size_t i = (size_t)hash_bytes(kv.p, kv.n, fold) & x->mask;
	while (x->slot[i] != 0)
		i = (i + 1) & x->mask;
	x->slot[i] = (uint32_t)(idx + 1);
	x->used++;
}

/* Add binding idx (its key known to be absent). 0, or -1 out of memory. */
static int strindex_add(strindex *x, const binding *v, key_of_fn *key, size_t idx, int fold)
{
	if (!x->slot && strindex_init(x, 16) != 0)
		return -1;
	if ((x->used + 1) * 2 > x->mask + 1) {
		strindex old = *x;
		if (strindex_init(x, (old.mask + 1) * 2) != 0) {
			*x = old;
			return -1;
		}
		for (size_t i = 0; i <= old.mask; i++)
			if (old.slot[i])
				strindex_place(x, v, key, old.slot[i] - 1, fold);
		strindex_free(&old);
	}
	strindex_place(x, v, key, idx, fold);
	return 0;
}

/* ---- the table ---------------------------------------------------------- */

struct bindings {
	char *text;   /* owned copy of the file; fields NUL-terminated in place */
	char *source; /* name for messages */
	binding *v;
	size_t n, cap;
	strindex types; /* producer event type -> binding */
	strindex names; /* binding name -> first binding with that name */
};

void bindings_free(bindings *t)
{
	if (!t)
		return;
	strindex_free(&t->types);
	strindex_free(&t->names);
	free(t->v);
	free(t->text);
	free(t->source);
	free(t);
}

const char *bindings_source(const bindings *t) { return t->source; }
size_t bindings_count(const bindings *t) { return t->n; }
const binding *bindings_at(const bindings *t, size_t i) { return i < t->n ? &t->v[i] : NULL; }

const binding *bindings_resolve(const bindings *t, const char *type, size_t len)
{
	size_t i = strindex_get(&t->types, t->v, key_type, type, len, 0);
	return i == SIZE_MAX ? NULL : &t->v[i];
}

const binding *bindings_find(const bindings *t, const char *name)
{
	size_t i = strindex_get(&t->names, t->v, key_name, name, strlen(name), 0);
	return i == SIZE_MAX ? NULL : &t->v[i];
}

const char *bindings_mode_name(enum binding_mode m)
{
	return m == BINDING_MODE_STRUCTURED ? "structured" : "binary";
}

/* Kafka's topic alphabet, which binding names share: [a-zA-Z0-9._-]. */
static int kafka_chars(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int bindings_topic_valid(const char *s, size_t n)
{
	if (n == 0 || n > BINDINGS_MAX_TOPIC)
		return 0;
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	return kafka_chars(s, n);
}

int bindings_name_valid(const char *s, size_t n)
{
	return n > 0 && n <= BINDINGS_MAX_NAME && kafka_chars(s, n);
}

/* ---- the parser --------------------------------------------------------- */

#define MAX_FIELDS 6 /* producer, 3 fields, 2 options */
#define MAX_REPORTED 100 /* errors handed to a report callback */

typedef struct parser {
	bindings *t;
	bindings_report_fn *fn;
	void *arg;
	errinfo *err;
	unsigned long lineno;
	unsigned long errors;
	int oom;
} parser;

static void report(parser *ps, int severity, unsigned long line, const char *fmt, ...)
	DIAG_PRINTF(4, 5);

static void report(parser *ps, int severity, unsigned long line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (severity == BINDINGS_ERROR) {
		if (ps->errors == 0) {
			if (line)
				errinfo_set(ps->err, EXIT_CONFIG, "%s:%lu: %s", ps->t->source, line, msg);
			else
				errinfo_set(ps->err, EXIT_CONFIG, "%s: %s", ps->t->source, msg);
		}
		ps->errors++;
		if (ps->errors > MAX_REPORTED)
			return;
	}
	if (ps->fn)
		ps->fn(ps->arg, severity, ps->t->source, line, msg);
}

/* A field as it appears in messages: bounded, so a huge field cannot
 * swamp the message (the caller has already checked it is UTF-8). */
#define SHOWN(s) (strlen(s) > 64 ? 64 : (int)strlen(s)), (s)

static int add_binding(parser *ps, const binding *b)
{
	bindings *t = ps->t;
	if (t->n == t->cap) {
		if (t->cap >= BINDINGS_MAX_COUNT) {
			report(ps, BINDINGS_ERROR, ps->lineno,
			       "too many bindings (at most %u)", BINDINGS_MAX_COUNT);
			return -1;
		}
		size_t cap = t->cap ? t->cap * 2 : 16;
		binding *v = realloc(t->v, cap * sizeof *v);
		if (!v) {
			ps->oom = 1;
			return -1;
		}
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n] = *b;
	return 0;
}

static int parse_option(parser *ps, binding *b, char *opt, int *seen_mode, int *seen_key)
{
	char *eq = strchr(opt, '=');
	if (!eq) {
		report(ps, BINDINGS_ERROR, ps->lineno,
		       "bad option \"%.*s\": expected mode=... or key=...", SHOWN(opt));
		return -1;
	}
	size_t nlen = (size_t)(eq - opt);
	const char *val = eq + 1;
	if (nlen == 4 && !memcmp(opt, "mode", 4)) {
		if ((*seen_mode)++) {
			report(ps, BINDINGS_ERROR, ps->lineno, "option mode given twice");
			return -1;
		}
		if (!strcmp(val, "binary"))
			b->mode = BINDING_MODE_BINARY;
		else if (!strcmp(val, "structured"))
			b->mode = BINDING_MODE_STRUCTURED;
		else {
			report(ps, BINDINGS_ERROR, ps->lineno,
			       "bad mode \"%.*s\": expected binary or structured", SHOWN(val));
			return -1;
		}
		return 0;
	}
	if (nlen == 3 && !memcmp(opt, "key", 3)) {
		if ((*seen_key)++) {
			report(ps, BINDINGS_ERROR, ps->lineno, "option key given twice");
			return -1;
		}
		b->key_rule = val;
		if (!strcmp(val, "partitionkey"))
			b->key = BINDING_KEY_PARTITIONKEY;
		else if (!strcmp(val, "subject"))
			b->key = BINDING_KEY_SUBJECT;
		else if (!strcmp(val, "id"))
			b->key = BINDING_KEY_ID;
		else if (!strcmp(val, "none"))
			b->key = BINDING_KEY_NONE;
		else if (!strncmp(val, "data:", 5)) {
			b->key = BINDING_KEY_DATA;
			b->key_pointer = val + 5;
			if (json_pointer_check(b->key_pointer) != 0) {
				report(ps, BINDINGS_ERROR, ps->lineno,
				       "bad key rule \"%.*s\": not a JSON Pointer (RFC 6901)",
				       SHOWN(val));
				return -1;
			}
		} else {
			report(ps, BINDINGS_ERROR, ps->lineno,
			       "bad key rule \"%.*s\": expected partitionkey, subject, id, "
			       "data:/POINTER or none", SHOWN(val));
			return -1;
		}
		return 0;
	}
	report(ps, BINDINGS_ERROR, ps->lineno, "unknown option \"%.*s\"", (int)(nlen > 64 ? 64 : nlen), opt);
	return -1;
}

static int check_name(parser *ps, const char *what, const char *s)
{
	if (bindings_name_valid(s, strlen(s)))
		return 0;
	report(ps, BINDINGS_ERROR, ps->lineno,
	       "invalid %s \"%.*s\": use 1 to %u of [A-Za-z0-9._-]", what, SHOWN(s),
	       BINDINGS_MAX_NAME);
	return -1;
}

static int check_topic(parser *ps, const char *s)
{
	if (bindings_topic_valid(s, strlen(s)))
		return 0;
	report(ps, BINDINGS_ERROR, ps->lineno,
	       "invalid topic name \"%.*s\": Kafka allows 1 to 249 of [a-zA-Z0-9._-], "
	       "not \".\" or \"..\"", SHOWN(s));
	return -1;
}

/* Register b's binding name: a consumer name must be new; a producer name
 * may be shared by several event types, but only with one topic. */
static int check_binding_name(parser *ps, const binding *b)
{
	bindings *t = ps->t;
	size_t i = strindex_get(&t->names, t->v, key_name, b->name, strlen(b->name), 0);
	if (i == SIZE_MAX)
		return 0;
	const binding *o = &t->v[i];
	if (o->kind == BINDING_PRODUCER && b->kind == BINDING_PRODUCER) {
		if (strcmp(o->topic, b->topic) == 0)
			return 0;
		report(ps, BINDINGS_ERROR, ps->lineno,
		       "binding %s already sends to topic %s (line %lu), not %s",
		       o->name, o->topic, o->line, b->topic);
		return -1;
	}
	report(ps, BINDINGS_ERROR, ps->lineno,
	       "duplicate binding name %s (first defined as a %s at line %lu)", b->name,
	       o->kind == BINDING_PRODUCER ? "producer" : "consumer", o->line);
	return -1;
}

static void parse_line(parser *ps, char *p, size_t len)
{
	if (len > BINDINGS_MAX_LINE) {
		report(ps, BINDINGS_ERROR, ps->lineno, "line too long (more than %u bytes)",
		       BINDINGS_MAX_LINE);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			report(ps, BINDINGS_ERROR, ps->lineno,
			       "control character 0x%02x in line", c);
			return;
		}
	}
	size_t ok = utf8_valid_prefix(p, len);
	if (ok != len) {
		report(ps, BINDINGS_ERROR, ps->lineno, "invalid UTF-8 at byte %zu", ok + 1);
		return;
	}

	char *f[MAX_FIELDS];
	size_t nf = 0;
	size_t i = 0;
	for (;;) {
		while (i < len && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i == len || p[i] == '#')
			break;
		if (nf == MAX_FIELDS) {
			report(ps, BINDINGS_ERROR, ps->lineno, "too many fields");
			return;
		}
		f[nf++] = p + i;
		while (i < len && p[i] != ' ' && p[i] != '\t')
			i++;
		/* Terminate in place: the byte after a field is a separator,
		 * the line's '\n' or '\r', or the NUL after the copy. */
		p[i] = '\0';
		if (i < len)
			i++;
	}
	if (nf == 0)
		return;

	binding b;
	memset(&b, 0, sizeof b);
	b.line = ps->lineno;
	b.key_rule = "partitionkey";
	if (!strcmp(f[0], "producer")) {
		if (nf < 4 || nf > 6) {
			report(ps, BINDINGS_ERROR, ps->lineno,
			       "producer takes EVENT-TYPE BINDING TOPIC [mode=...] [key=...]: "
			       "%zu field%s given", nf - 1, nf == 2 ? "" : "s");
			return;
		}
		b.kind = BINDING_PRODUCER;
		b.event_type = f[1];
		b.event_type_len = strlen(f[1]);
		b.name = f[2];
		b.topic = f[3];
		if (b.event_type_len > BINDINGS_MAX_TYPE) {
			report(ps, BINDINGS_ERROR, ps->lineno,
			       "event type too long (more than %u bytes)", BINDINGS_MAX_TYPE);
			return;
		}
		if (check_name(ps, "binding name", b.name) || check_topic(ps, b.topic))
			return;
		int seen_mode = 0, seen_key = 0;
		for (size_t k = 4; k < nf; k++)
			if (parse_option(ps, &b, f[k], &seen_mode, &seen_key) != 0)
				return;
		size_t o = strindex_get(&ps->t->types, ps->t->v, key_type, b.event_type,
					b.event_type_len, 0);
		if (o != SIZE_MAX) {
			report(ps, BINDINGS_ERROR, ps->lineno,
			       "duplicate event type %.*s (first bound at line %lu)",
			       SHOWN(b.event_type), ps->t->v[o].line);
			return;
		}
	} else if (!strcmp(f[0], "consumer")) {
		if (nf != 4) {
			report(ps, BINDINGS_ERROR, ps->lineno,
			       "consumer takes BINDING TOPIC GROUP: %zu field%s given",
			       nf - 1, nf == 2 ? "" : "s");
			return;
		}
		b.kind = BINDING_CONSUMER;
		b.name = f[1];
		b.topic = f[2];
		b.group = f[3];
		b.key = BINDING_KEY_NONE;
		b.key_rule = "none";
		if (check_name(ps, "binding name", b.name) || check_topic(ps, b.topic))
			return;
		if (strlen(b.group) > BINDINGS_MAX_NAME) {
			report(ps, BINDINGS_ERROR, ps->lineno,
			       "group too long (more than %u bytes)", BINDINGS_MAX_NAME);
			return;
		}
	} else {
		report(ps, BINDINGS_ERROR, ps->lineno,
		       "unknown directive \"%.*s\": expected producer or consumer", SHOWN(f[0]));
		return;
	}
	if (check_binding_name(ps, &b) != 0)
		return;
	if (add_binding(ps, &b) != 0)
		return;
	bindings *t = ps->t;
	size_t idx = t->n;
	int dup_name = strindex_get(&t->names, t->v, key_name, b.name, strlen(b.name), 0) != SIZE_MAX;
	if ((b.kind == BINDING_PRODUCER && strindex_add(&t->types, t->v, key_type, idx, 0) != 0) ||
	    (!dup_name && strindex_add(&t->names, t->v, key_name, idx, 0) != 0)) {
		ps->oom = 1;
		return;
	}
	t->n++;
}

/* Warnings a lint wants: topics produced to that no consumer binding
 * reads (often a typo in one of the two), and distinct topics whose names
 * collide once Kafka maps '.' to '_' in metric names. */
static void warn_topics(parser *ps)
{
	bindings *t = ps->t;
	strindex consumed = { 0 }, seen = { 0 }, exact = { 0 };
	for (size_t i = 0; i < t->n && !ps->oom; i++) {
		const binding *b = &t->v[i];
		if (b->kind == BINDING_CONSUMER &&
		    strindex_get(&consumed, t->v, key_topic, b->topic, strlen(b->topic), 0) == SIZE_MAX &&
		    strindex_add(&consumed, t->v, key_topic, i, 0) != 0)
			ps->oom = 1;
	}
	for (size_t i = 0; i < t->n && !ps->oom; i++) {
		const binding *b = &t->v[i];
		size_t n = strlen(b->topic);
		/* Each distinct topic once: the first line that names it. */
		if (strindex_get(&exact, t->v, key_topic, b->topic, n, 0) != SIZE_MAX)
			continue;
		if (strindex_add(&exact, t->v, key_topic, i, 0) != 0) {
			ps->oom = 1;
			break;
		}
		size_t o = strindex_get(&seen, t->v, key_topic, b->topic, n, 1);
		if (o == SIZE_MAX) {
			if (strindex_add(&seen, t->v, key_topic, i, 1) != 0) {
				ps->oom = 1;
				break;
			}
		} else {
			report(ps, BINDINGS_WARNING, b->line,
			       "topics %s (line %lu) and %s collide in Kafka metric names "
			       "('.' and '_' are the same there)",
			       t->v[o].topic, t->v[o].line, b->topic);
		}
		if (b->kind == BINDING_PRODUCER &&
		    strindex_get(&consumed, t->v, key_topic, b->topic, n, 0) == SIZE_MAX)
			report(ps, BINDINGS_WARNING, b->line, "topic %s has no consumer binding",
			       b->topic);
	}
	strindex_free(&consumed);
	strindex_free(&seen);
	strindex_free(&exact);
}

bindings *bindings_parse(const char *text, size_t len, const char *name,
			 bindings_report_fn *fn, void *arg, errinfo *err)
{
	if (len > BINDINGS_MAX_FILE) {
		errinfo_set(err, EXIT_CONFIG, "%s: file too large (more than %u bytes)",
			    name, BINDINGS_MAX_FILE);
		return NULL;
	}
	bindings *t = calloc(1, sizeof *t);
	if (!t)
		goto oom;
	t->source = strdup(name);
	t->text = malloc(len + 1);
	if (!t->source || !t->text)
		goto oom;
	if (len)
		memcpy(t->text, text, len);
	t->text[len] = '\0';

	parser ps = { t, fn, arg, err, 0, 0, 0 };
	char *p = t->text, *end = t->text + len;
	while (p < end && !ps.oom) {
		ps.lineno++;
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *e = nl ? nl : end;
		size_t n = (size_t)(e - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (memchr(p, '\0', n))
			report(&ps, BINDINGS_ERROR, ps.lineno, "NUL byte in line");
		else
			parse_line(&ps, p, n);
		if (ps.errors && (!fn || ps.errors > MAX_REPORTED))
			break;
		p = nl ? nl + 1 : end;
	}
	if (!ps.oom && fn && ps.errors == 0)
		warn_topics(&ps);
	if (ps.oom)
		goto oom;
	if (ps.errors) {
		if (ps.errors > MAX_REPORTED && fn)
			fn(arg, BINDINGS_ERROR, t->source, 0, "too many errors, giving up");
		bindings_free(t);
		return NULL;
	}
	return t;
oom:
	bindings_free(t);
	errinfo_set(err, EXIT_SOFTWARE, "%s: out of memory", name);
	return NULL;
}

int bindings_read_file(const char *path, const char *name, size_t max, int too_large,
		       buf *out, errinfo *err)
{
	int fd = 0;
	if (strcmp(path, "-") != 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			return errinfo_set(err, exitcode_for_open(e), "%s: %s", name, strerror(e));
		}
	} else if (ndjson_stdin_check(err) != 0) {
		return err->code;
	}
	int rc = 0;
	struct stat st;
	/* A directory is an input that exists but cannot be read as a file:
	 * the open() rule (74), as for every other input of every tool. */
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		rc = errinfo_set(err, exitcode_for_open(EISDIR), "%s: %s", name, strerror(EISDIR));
		goto done;
	}
	/* One byte over max tells "too large" from "exactly max". */
	size_t start = out->len;
	for (;;) {
		size_t got = out->len - start;
		if (got > max) {
			rc = errinfo_set(err, too_large, "%s: file too large (more than %zu bytes)",
					 name, max);
			break;
		}
		size_t want = max + 1 - got < 65536 ? max + 1 - got : 65536;
		if (buf_reserve(out, want) != 0) {
			rc = errinfo_set(err, EXIT_SOFTWARE, "%s: out of memory", name);
			break;
		}
		ssize_t r = read(fd, out->data + out->len, want);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = errinfo_set(err, EXIT_IOERR, "%s: %s", name, strerror(errno));
			break;
		}
		if (r == 0)
			break;
		out->len += (size_t)r;
		out->data[out->len] = '\0';
	}
	if (rc != 0 && out->data) {
		out->len = start;
		out->data[start] = '\0';
	}
done:
	if (fd != 0)
		close(fd);
	return rc;
}

bindings *bindings_load_report(const char *path, bindings_report_fn *fn, void *arg, errinfo *err)
{
	const char *via = "";
	if (!path) {
		const char *env = getenv("EVENT_BINDINGS");
		if (!env || !*env)
			return bindings_parse(defaults_text, sizeof defaults_text - 1,
					      BINDINGS_BUILTIN_NAME, fn, arg, err);
		path = env;
		via = " (from EVENT_BINDINGS)";
	}
	const char *name = strcmp(path, "-") ? path : "<stdin>";
	buf text = BUF_INIT(BINDINGS_MAX_FILE + 1); /* + 1: see bindings_read_file */
	char where[600]; /* for messages only: errinfo holds 512 bytes anyway */
	snprintf(where, sizeof where, "%s%s", name, via);
	if (bindings_read_file(path, where, BINDINGS_MAX_FILE, EXIT_CONFIG, &text, err) != 0) {
		buf_free(&text);
		return NULL;
	}
	bindings *t = bindings_parse(text.data ? text.data : "", text.len, name, fn, arg, err);
	buf_free(&text);
	return t;
}

bindings *bindings_load(const char *path, errinfo *err)
{
	return bindings_load_report(path, NULL, NULL, err);
}

/* ---- keys --------------------------------------------------------------- */

static int key_from_attr(const ce_attr *a, buf *out)
{
	if (!a || !a->value.p)
		return 0;
	return ce_attr_value(a, out) == 0 ? 1 : -1;
}

static int key_from_data(const binding *b, const cloudevent *ev, buf *out)
{
	if (ev->data_kind != CE_DATA_JSON || !ev->data.p)
		return 0;
	json_span v;
	enum json_type type;
	if (json_pointer_find(ev->data, b->key_pointer, &v, &type) != 1)
		return 0;
	switch (type) {
	case JSON_STRING:
		return json_string_decode(v, out) == 0 ? 1 : -1;
	case JSON_NUMBER:
	case JSON_TRUE:
	case JSON_FALSE:
		return buf_append(out, v.p, v.n) == 0 ? 1 : -1;
	default:
		return 0;
	}
}

int bindings_key(const binding *b, const cloudevent *ev, buf *out)
{
	if (b->kind != BINDING_PRODUCER)
		return 0;
	size_t before = out->len;
	int rc;
	switch (b->key) {
	case BINDING_KEY_PARTITIONKEY:
		rc = key_from_attr(ce_find_extension(ev, "partitionkey"), out);
		break;
	case BINDING_KEY_SUBJECT:
		rc = key_from_attr(&ev->subject, out);
		break;
	case BINDING_KEY_ID:
		rc = key_from_attr(&ev->id, out);
		break;
	case BINDING_KEY_DATA:
		rc = key_from_data(b, ev, out);
		break;
	default:
		rc = 0;
		break;
	}
	if (rc < 0 && out->data) {
		/* All or nothing, like every buf append. */
		out->len = before;
		out->data[before] = '\0';
	}
	return rc;
}
