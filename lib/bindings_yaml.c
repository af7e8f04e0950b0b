/* bindings_yaml.c - import a Spring Cloud Stream application.yml into the
 * bindings file format. See bindings.h and event-bindings(1).
 *
 * The YAML is loaded with libyaml's document API (a real parser: anchors,
 * aliases, quoting, flow style and comments all behave as YAML says) and
 * walked as Spring Boot reads it: keys are joined with '.', so both the
 * nested form and dotted keys such as
 *   spring.cloud.stream.bindings.foo-out-0.destination: foo
 * name the same property. Only the subtree under
 * spring.cloud.stream.bindings is visited.
 *
 * Merge keys ("<<: *defaults", "<<: [*a, *b]") are applied as YAML 1.1's
 * merge type says and as Spring Boot's loader (SnakeYAML) applies them: a
 * mapping's own keys win over merged ones, and among merged mappings the
 * earlier wins. The merge is shallow: a key the mapping sets replaces the
 * merged value whole, nested mappings included.
 */
#include "bindings.h"
#include "exitcode.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define TARGET "spring.cloud.stream.bindings"
#define TARGET_LEN (sizeof TARGET - 1)
#define MAX_DEPTH 64           /* nesting below which nothing is looked at */
#define MAX_NODES 1000000ul    /* nodes visited: stops alias bombs */
#define MAX_IMPORT 10000u      /* bindings in one file */

enum { P_DEST, P_GROUP, P_CTYPE, P_N };

typedef struct spring_binding {
	char *name;
	unsigned long line;      /* where the binding first appears */
	char *val[P_N];
	unsigned long vline[P_N];
	char *type;              /* producers: the derived event type */
} spring_binding;

typedef struct importer {
	const char *file;
	spring_binding *v;
	size_t n, cap;
	unsigned long budget;
	buf path;
	errinfo *err;
	int failed;              /* exit code once err is set, else 0 */
	bindings_report_fn *fn;
	void *arg;
} importer;

static int fail(importer *im, unsigned long line, const char *fmt, ...) DIAG_PRINTF(3, 4);

static int fail(importer *im, unsigned long line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!im->failed) {
		if (line)
			errinfo_set(im->err, EXIT_DATAERR, "%s:%lu: %s", im->file, line, msg);
		else
			errinfo_set(im->err, EXIT_DATAERR, "%s: %s", im->file, msg);
		im->failed = EXIT_DATAERR;
	}
	return -1;
}

static int oom(importer *im)
{
	if (!im->failed) {
		errinfo_set(im->err, EXIT_SOFTWARE, "%s: out of memory", im->file);
		im->failed = EXIT_SOFTWARE;
	}
	return -1;
}

static void warn(importer *im, unsigned long line, const char *fmt, ...) DIAG_PRINTF(3, 4);

static void warn(importer *im, unsigned long line, const char *fmt, ...)
{
	if (!im->fn)
		return;
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	im->fn(im->arg, BINDINGS_WARNING, im->file, line, msg);
}

/* At most this much of a user's string goes into a message. */
#define SHOWN(n) ((int)((n) > 64 ? 64 : (n)))

static unsigned long line_of(const yaml_node_t *node) { return (unsigned long)node->start_mark.line + 1; }

/* Is the path on the way to, or inside, spring.cloud.stream.bindings? */
static int path_relevant(const buf *p)
{
	if (p->len <= TARGET_LEN)
		return memcmp(p->data, TARGET, p->len) == 0 &&
		       (p->len == TARGET_LEN || TARGET[p->len] == '.');
	return memcmp(p->data, TARGET, TARGET_LEN) == 0 && p->data[TARGET_LEN] == '.';
}

static spring_binding *find_or_add(importer *im, const char *name, size_t n, unsigned long line)
{
	if (!bindings_name_valid(name, n)) {
		fail(im, line, "binding name \"%.*s\" is not usable: use 1 to %u of [A-Za-z0-9._-]",
		     SHOWN(n), name, BINDINGS_MAX_NAME);
		return NULL;
	}
	for (size_t i = 0; i < im->n; i++)
		if (strlen(im->v[i].name) == n && memcmp(im->v[i].name, name, n) == 0)
			return &im->v[i];
	if (im->n == MAX_IMPORT) {
		fail(im, line, "too many bindings (at most %u)", MAX_IMPORT);
		return NULL;
	}
	if (im->n == im->cap) {
		size_t cap = im->cap ? im->cap * 2 : 16;
		spring_binding *v = realloc(im->v, cap * sizeof *v);
		if (!v) {
			oom(im);
			return NULL;
		}
		im->v = v;
		im->cap = cap;
	}
	spring_binding *b = &im->v[im->n];
	memset(b, 0, sizeof *b);
	b->name = strndup(name, n);
	if (!b->name) {
		oom(im);
		return NULL;
	}
	b->line = line;
	im->n++;
	return b;
}

/* Which property a path NAME.PROP names, or -1. */
static int property_of(const char *prop, size_t plen)
{
	if (plen == 11 && !memcmp(prop, "destination", 11))
		return P_DEST;
	if (plen == 5 && !memcmp(prop, "group", 5))
		return P_GROUP;
	if ((plen == 12 && !memcmp(prop, "content-type", 12)) ||
	    (plen == 11 && !memcmp(prop, "contentType", 11)))
		return P_CTYPE;
	return -1;
}

/* Is the current path spring.cloud.stream.bindings.NAME.PROP for a
 * property we map? */
static int is_property(const importer *im)
{
	const char *rest = im->path.data + TARGET_LEN + 1;
	size_t restlen = im->path.len - TARGET_LEN - 1;
	const char *dot = memchr(rest, '.', restlen);
	return dot && property_of(dot + 1, restlen - (size_t)(dot - rest) - 1) >= 0;
}

/* A value at spring.cloud.stream.bindings.NAME.PROP. */
static int record(importer *im, yaml_node_t *value, unsigned long keyline)
{
	const char *rest = im->path.data + TARGET_LEN + 1;
	size_t restlen = im->path.len - TARGET_LEN - 1;
	const char *dot = memchr(rest, '.', restlen);
	size_t nlen = dot ? (size_t)(dot - rest) : restlen;
	spring_binding *b = find_or_add(im, rest, nlen, keyline);
	if (!b)
		return -1;
	if (!dot)
		return 0; /* "NAME: ~" or "NAME: x": a binding with nothing set */
	const char *prop = dot + 1;
	size_t plen = restlen - nlen - 1;
	int k = property_of(prop, plen);
	if (k < 0)
		return 0; /* a property we do not map (consumer.*, binder, ...) */
	if (value->type != YAML_SCALAR_NODE)
		return fail(im, line_of(value), "%.*s of binding %s must be a single value",
			    SHOWN(plen), prop, b->name);
	const char *s = (const char *)value->data.scalar.value;
	size_t n = value->data.scalar.length;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return fail(im, line_of(value),
				    "%.*s of binding %s holds a control character",
				    SHOWN(plen), prop, b->name);
	char *copy = strndup(s, n);
	if (!copy)
		return oom(im);
	free(b->val[k]); /* a later document overrides, as in Spring */
	b->val[k] = copy;
	b->vline[k] = line_of(value);
	return 0;
}

static int walk(importer *im, yaml_document_t *doc, yaml_node_t *node, int depth, unsigned long keyline);

/* One key of a mapping and its value, after merging. */
typedef struct kv {
	yaml_node_t *key, *val;
	int own;                 /* set by the mapping itself, not merged in */
} kv;

/* A mapping's pairs with its merge keys applied, in the order the keys
 * first appear; idx hashes a key to 1 + its first entry (0 = empty). */
typedef struct kvlist {
	kv *v;
	size_t n, cap;
	size_t *idx;
	size_t icap;             /* a power of two, at least 2n */
} kvlist;

static void kvlist_free(kvlist *l)
{
	free(l->v);
	free(l->idx);
	memset(l, 0, sizeof *l);
}

static size_t key_hash(const yaml_node_t *k)
{
	size_t h = 2166136261u;
	for (size_t i = 0; i < k->data.scalar.length; i++)
		h = (h ^ k->data.scalar.value[i]) * 16777619u;
	return h;
}

static int key_eq(const yaml_node_t *a, const yaml_node_t *b)
{
	return a->data.scalar.length == b->data.scalar.length &&
	       memcmp(a->data.scalar.value, b->data.scalar.value, a->data.scalar.length) == 0;
}

/* The slot of key k in l->idx: the one holding it, or the empty one where
 * it goes. */
static size_t kv_slot(const kvlist *l, const yaml_node_t *k)
{
	size_t mask = l->icap - 1, i = key_hash(k) & mask;
	while (l->idx[i] && !key_eq(l->v[l->idx[i] - 1].key, k))
		i = (i + 1) & mask;
	return i;
}

/* Append a pair; indexed unless an earlier entry holds the same key. */
static int kv_append(importer *im, kvlist *l, yaml_node_t *k, yaml_node_t *v, int own, size_t slot)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		kv *nv = realloc(l->v, cap * sizeof *nv);
		if (!nv)
			return oom(im);
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = (kv){ k, v, own };
	if (!l->idx[slot])
		l->idx[slot] = l->n;
	if (l->n * 2 <= l->icap)
		return 0;
	size_t icap = l->icap * 2, *idx = calloc(icap, sizeof *idx);
	if (!idx)
		return oom(im);
	free(l->idx);
	l->idx = idx;
	l->icap = icap;
	for (size_t e = 0; e < l->n; e++) {
		size_t i = kv_slot(l, l->v[e].key);
		if (!l->idx[i])
			l->idx[i] = e + 1;
	}
	return 0;
}

/* Add one key: a mapping's own key replaces a merged value for it (keeping
 * the merged key's place) and otherwise goes after what is there, as the
 * walk has always taken repeated keys; a merged key is added only when
 * nothing has it yet, so the earlier merge wins. */
static int kv_add(importer *im, kvlist *l, yaml_node_t *k, yaml_node_t *v, int own)
{
	if (im->budget-- == 0)
		return fail(im, line_of(k), "more than %lu nodes (alias expansion?)", MAX_NODES);
	size_t slot = kv_slot(l, k);
	if (l->idx[slot]) {
		kv *e = &l->v[l->idx[slot] - 1];
		if (!own)
			return 0;
		if (!e->own) {
			*e = (kv){ k, v, 1 };
			return 0;
		}
	}
	return kv_append(im, l, k, v, own, slot);
}

/* "<<" as a plain key (or tagged !!merge) is a merge key; "'<<'" is not. */
static int is_merge_key(const yaml_node_t *k)
{
	return k->type == YAML_SCALAR_NODE && k->data.scalar.length == 2 &&
	       memcmp(k->data.scalar.value, "<<", 2) == 0 &&
	       (!strcmp((const char *)k->tag, "tag:yaml.org,2002:merge") ||
		k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE);
}

static int has_merge_key(yaml_document_t *doc, const yaml_node_t *map)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		if (k && is_merge_key(k))
			return 1;
	}
	return 0;
}

static int merged_pairs(importer *im, yaml_document_t *doc, yaml_node_t *map, kvlist *out, int level);

/* Merge the mapping src (its own merges applied first) under out's keys. */
static int merge_from(importer *im, yaml_document_t *doc, yaml_node_t *src, kvlist *out, int level)
{
	/* Counted like a node: "&a {<<: [*a, *a]}" doubles at every level. */
	if (im->budget-- == 0)
		return fail(im, line_of(src), "more than %lu nodes (alias expansion?)", MAX_NODES);
	kvlist from = { 0 };
	int rc = merged_pairs(im, doc, src, &from, level + 1);
	for (size_t i = 0; rc == 0 && i < from.n; i++)
		rc = kv_add(im, out, from.v[i].key, from.v[i].val, 0);
	kvlist_free(&from);
	return rc;
}

/* The pairs of mapping map with its merge keys applied. level counts
 * merges within merges; an alias cycle ("&a {<<: *a}") ends there. */
static int merged_pairs(importer *im, yaml_document_t *doc, yaml_node_t *map, kvlist *out, int level)
{
	if (level > MAX_DEPTH)
		return fail(im, line_of(map), "merge keys nested deeper than %d levels (a mapping merging itself?)",
			    MAX_DEPTH);
	out->icap = 32;
	out->idx = calloc(out->icap, sizeof *out->idx);
	if (!out->idx)
		return oom(im);
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(doc, pair->key);
		yaml_node_t *val = yaml_document_get_node(doc, pair->value);
		if (!key || !val || key->type != YAML_SCALAR_NODE)
			continue;
		if (!is_merge_key(key)) {
			if (kv_add(im, out, key, val, 1) != 0)
				return -1;
			continue;
		}
		if (val->type == YAML_MAPPING_NODE) {
			if (merge_from(im, doc, val, out, level) != 0)
				return -1;
			continue;
		}
		if (val->type != YAML_SEQUENCE_NODE)
			return fail(im, line_of(val), "<< (merge) takes a mapping or a list of mappings");
		for (yaml_node_item_t *it = val->data.sequence.items.start;
		     it < val->data.sequence.items.top; it++) {
			yaml_node_t *m = yaml_document_get_node(doc, *it);
			if (!m || m->type != YAML_MAPPING_NODE)
				return fail(im, m ? line_of(m) : line_of(val),
					    "<< (merge) takes a mapping or a list of mappings");
			if (merge_from(im, doc, m, out, level) != 0)
				return -1;
		}
	}
	return 0;
}

/* One key: value of a mapping, at the current path. */
static int walk_pair(importer *im, yaml_document_t *doc, yaml_node_t *key, yaml_node_t *val, int depth)
{
	size_t old = im->path.len;
	int ok = (old == 0 || buf_putc(&im->path, '.') == 0) &&
		 buf_append(&im->path, key->data.scalar.value, key->data.scalar.length) == 0;
	/* A path too long for the buffer cannot be one we look for. */
	if (ok && path_relevant(&im->path)) {
		const char *rest = im->path.data + TARGET_LEN + 1;
		/* Seeing NAME as a key registers the binding even when
		 * it sets nothing, so a missing destination is caught. */
		if (im->path.len > TARGET_LEN + 1 && val->type == YAML_MAPPING_NODE &&
		    !memchr(rest, '.', im->path.len - TARGET_LEN - 1) &&
		    !find_or_add(im, rest, im->path.len - TARGET_LEN - 1, line_of(key)))
			return -1;
		if (walk(im, doc, val, depth + 1, line_of(key)) != 0)
			return -1;
	}
	im->path.len = old;
	if (im->path.data)
		im->path.data[old] = '\0';
	return 0;
}

static int walk(importer *im, yaml_document_t *doc, yaml_node_t *node, int depth, unsigned long keyline)
{
	if (depth > MAX_DEPTH)
		return fail(im, line_of(node), "nesting deeper than %d levels", MAX_DEPTH);
	if (im->budget-- == 0)
		return fail(im, line_of(node), "more than %lu nodes (alias expansion?)", MAX_NODES);
	int inside = im->path.len > TARGET_LEN + 1 && path_relevant(&im->path);
	if (node->type != YAML_MAPPING_NODE)
		return inside ? record(im, node, keyline) : 0;
	if (inside && is_property(im)) /* "destination: {a: b}" */
		return record(im, node, keyline);
	if (has_merge_key(doc, node)) {
		kvlist l = { 0 };
		int rc = merged_pairs(im, doc, node, &l, 0);
		for (size_t i = 0; rc == 0 && i < l.n; i++)
			rc = walk_pair(im, doc, l.v[i].key, l.v[i].val, depth);
		kvlist_free(&l);
		return rc;
	}
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(doc, pair->key);
		yaml_node_t *val = yaml_document_get_node(doc, pair->value);
		if (!key || !val || key->type != YAML_SCALAR_NODE)
			continue;
		if (walk_pair(im, doc, key, val, depth) != 0)
			return -1;
	}
	return 0;
}

/* "${NAME:default}" is Spring's placeholder: the import takes the default
 * (the environment of whoever runs the import is not the application's).
 * Returns the value to use, or NULL (err set) for a placeholder without a
 * default. *resolved says whether a placeholder was replaced. */
static const char *placeholder(importer *im, const char *v, unsigned long line,
			       const char *what, const char *bname, int *resolved)
{
	*resolved = 0;
	size_t n = strlen(v);
	if (n < 3 || v[0] != '$' || v[1] != '{' || v[n - 1] != '}')
		return v;
	const char *colon = memchr(v + 2, ':', n - 3);
	if (!colon) {
		fail(im, line, "%s %.*s of binding %s is a placeholder without a default",
		     what, SHOWN(n), v, bname);
		return NULL;
	}
	*resolved = 1;
	return colon + 1; /* ends at the '}', which the caller cuts */
}

/* Copy of a placeholder-resolved value (the part before the final '}'). */
static char *resolved_copy(const char *v, int resolved)
{
	size_t n = strlen(v);
	return strndup(v, resolved ? n - 1 : n);
}

/* "-out-N" or "-in-N" at the end of name: returns the function name's
 * length, or 0. */
static size_t function_len(const char *name, const char *marker)
{
	size_t n = strlen(name), m = strlen(marker);
	size_t i = n;
	while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9')
		i--;
	if (i == n || i < m + 1 || memcmp(name + i - m, marker, m) != 0)
		return 0;
	return i - m;
}

static int emit_line_comment(buf *out, const char *fmt, ...) DIAG_PRINTF(2, 3);

static int emit_line_comment(buf *out, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	return buf_printf(out, "# %s\n", line);
}

static int topic_of(importer *im, spring_binding *b, char **topic, int *resolved)
{
	if (!b->val[P_DEST])
		return fail(im, b->line, "binding %s has no destination", b->name);
	const char *v = placeholder(im, b->val[P_DEST], b->vline[P_DEST], "destination", b->name, resolved);
	if (!v)
		return -1;
	*topic = resolved_copy(v, *resolved);
	if (!*topic)
		return oom(im);
	if (!bindings_topic_valid(*topic, strlen(*topic))) {
		fail(im, b->vline[P_DEST],
		     "destination \"%.*s\" of binding %s is not a valid Kafka topic name",
		     SHOWN(strlen(*topic)), *topic, b->name);
		free(*topic);
		*topic = NULL;
		return -1;
	}
	return 0;
}

static int emit_producer(importer *im, spring_binding *b, size_t fnlen, buf *out)
{
	/* fooEventProducer-out-0 -> FooEvent: Spring's functional naming is
	 * <function>-out-<index>, and the seed names each producer function
	 * after its event type plus "Producer". */
	size_t tlen = fnlen;
	int stripped = 0;
	if (tlen > 8 && memcmp(b->name + tlen - 8, "Producer", 8) == 0) {
		tlen -= 8;
		stripped = 1;
	}
	b->type = strndup(b->name, tlen);
	if (!b->type)
		return oom(im);
	if (b->type[0] >= 'a' && b->type[0] <= 'z')
		b->type[0] = (char)(b->type[0] - 'a' + 'A');
	for (size_t i = 0; i < (size_t)(b - im->v); i++)
		if (im->v[i].type && strcmp(im->v[i].type, b->type) == 0)
			return fail(im, b->line,
				    "binding %s gives event type %s, as binding %s (line %lu) does",
				    b->name, b->type, im->v[i].name, im->v[i].line);
	char *topic = NULL;
	int resolved;
	if (topic_of(im, b, &topic, &resolved) != 0)
		return -1;
	int structured = b->val[P_CTYPE] &&
			 strncasecmp(b->val[P_CTYPE], "application/cloudevents", 23) == 0;
	int rc = emit_line_comment(out, "line %lu: event type %s derived from function %.*s%s",
				   b->line, b->type, (int)fnlen, b->name,
				   stripped ? "" : " (no \"Producer\" suffix)");
	if (rc == 0 && resolved)
		rc = emit_line_comment(out, "line %lu: destination %s is the default of %s",
				       b->vline[P_DEST], topic, b->val[P_DEST]);
	if (rc == 0)
		rc = buf_printf(out, "producer %s %s %s%s\n", b->type, b->name, topic,
				structured ? " mode=structured" : "");
	free(topic);
	return rc == 0 ? 0 : oom(im);
}

static int group_ok(const char *g)
{
	size_t n = strlen(g);
	if (n == 0 || n > BINDINGS_MAX_NAME)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (g[i] == ' ' || g[i] == '\t' || (i == 0 && g[i] == '#'))
			return 0;
	return 1;
}

static int emit_consumer(importer *im, spring_binding *b, buf *out)
{
	if (!b->val[P_GROUP]) {
		warn(im, b->line, "binding %s has no group (Spring would use an anonymous one): skipped",
		     b->name);
		return emit_line_comment(out, "line %lu: %s skipped: no group", b->line, b->name) == 0
			       ? 0 : oom(im);
	}
	int gres;
	const char *g = placeholder(im, b->val[P_GROUP], b->vline[P_GROUP], "group", b->name, &gres);
	if (!g)
		return -1;
	char *group = resolved_copy(g, gres);
	if (!group)
		return oom(im);
	if (!group_ok(group)) {
		free(group);
		return fail(im, b->vline[P_GROUP],
			    "group of binding %s must be 1 to %u bytes without spaces",
			    b->name, BINDINGS_MAX_NAME);
	}
	char *topic = NULL;
	int resolved;
	if (topic_of(im, b, &topic, &resolved) != 0) {
		free(group);
		return -1;
	}
	int rc = 0;
	if (resolved)
		rc = emit_line_comment(out, "line %lu: destination %s is the default of %s",
				       b->vline[P_DEST], topic, b->val[P_DEST]);
	if (rc == 0 && gres)
		rc = emit_line_comment(out, "line %lu: group %s is the default of %s",
				       b->vline[P_GROUP], group, b->val[P_GROUP]);
	if (rc == 0)
		rc = buf_printf(out, "consumer %s %s %s\n", b->name, topic, group);
	free(topic);
	free(group);
	return rc == 0 ? 0 : oom(im);
}

static int generate(importer *im, buf *out)
{
	if (im->n == 0)
		return fail(im, 0, "no bindings under spring.cloud.stream.bindings");
	/* The file name is the one string here nobody validated: a newline in
	 * it would end the comment and start a line of bindings. */
	char shown[300];
	size_t k = 0;
	for (const unsigned char *c = (const unsigned char *)im->file; *c && k + 5 < sizeof shown; c++) {
		if (*c < 0x20 || *c == 0x7f || *c == '\\')
			k += (size_t)snprintf(shown + k, sizeof shown - k, "\\x%02x", *c);
		else
			shown[k++] = (char)*c;
	}
	shown[k] = '\0';
	if (emit_line_comment(out, "bindings imported from %s (Spring Cloud Stream)", shown) != 0)
		return oom(im);
	for (size_t i = 0; i < im->n; i++) {
		spring_binding *b = &im->v[i];
		size_t fl = function_len(b->name, "-out-");
		if (fl && emit_producer(im, b, fl, out) != 0)
			return -1;
	}
	for (size_t i = 0; i < im->n; i++) {
		spring_binding *b = &im->v[i];
		if (function_len(b->name, "-out-"))
			continue;
		if (function_len(b->name, "-in-")) {
			if (emit_consumer(im, b, out) != 0)
				return -1;
			continue;
		}
		warn(im, b->line, "binding %s is neither NAME-out-N nor NAME-in-N: skipped", b->name);
		if (emit_line_comment(out, "line %lu: %s skipped: neither NAME-out-N nor NAME-in-N",
				      b->line, b->name) != 0)
			return oom(im);
	}
	return 0;
}

static int yaml_fail(importer *im, const yaml_parser_t *p)
{
	const char *what = p->error == YAML_MEMORY_ERROR ? "out of memory"
			 : p->problem ? p->problem : "YAML error";
	unsigned long line = (unsigned long)p->problem_mark.line + 1;
	if (p->error == YAML_MEMORY_ERROR)
		return oom(im);
	if (p->context)
		return fail(im, line, "invalid YAML: %s %s (line %lu)", what, p->context,
			    (unsigned long)p->context_mark.line + 1);
	return fail(im, line, "invalid YAML: %s", what);
}

static void importer_free(importer *im)
{
	for (size_t i = 0; i < im->n; i++) {
		free(im->v[i].name);
		free(im->v[i].type);
		for (int k = 0; k < P_N; k++)
			free(im->v[i].val[k]);
	}
	free(im->v);
	buf_free(&im->path);
}

int bindings_import_spring_text(const char *text, size_t len, const char *name,
				buf *out, bindings_report_fn *fn, void *arg, errinfo *err)
{
	importer im = { name, NULL, 0, 0, MAX_NODES, BUF_INIT(4096), err, 0, fn, arg };
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		return oom(&im), im.failed;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	for (;;) {
		yaml_document_t doc;
		if (!yaml_parser_load(&parser, &doc)) {
			yaml_fail(&im, &parser);
			break;
		}
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (!root) { /* the end of the stream */
			yaml_document_delete(&doc);
			break;
		}
		int rc = walk(&im, &doc, root, 0, line_of(root));
		yaml_document_delete(&doc);
		if (rc != 0)
			break;
	}
	yaml_parser_delete(&parser);

	size_t start = out->len;
	if (!im.failed)
		generate(&im, out);
	if (!im.failed) {
		/* The output must load: parse it with the one parser. */
		errinfo perr = { 0 };
		bindings *t = bindings_parse(out->data + start, out->len - start, "(import)",
					     NULL, NULL, &perr);
		if (!t)
			fail(&im, 0, "the imported bindings do not load: %s", perr.text);
		bindings_free(t);
	}
	importer_free(&im);
	if (im.failed) {
		if (out->data) {
			out->len = start;
			out->data[start] = '\0';
		}
		return im.failed;
	}
	return 0;
}

int bindings_import_spring(const char *path, buf *out, bindings_report_fn *fn, void *arg,
			   errinfo *err)
{
	const char *name = strcmp(path, "-") ? path : "<stdin>";
	buf text = BUF_INIT(BINDINGS_MAX_YAML + 1);
	int rc = bindings_read_file(path, name, BINDINGS_MAX_YAML, EXIT_DATAERR, &text, err);
	if (rc == 0)
		rc = bindings_import_spring_text(text.data ? text.data : "", text.len, name, out,
						 fn, arg, err);
	buf_free(&text);
	return rc;
}
