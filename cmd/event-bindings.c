/* event-bindings - the routing table: event type -> binding -> topic.
 * See event-bindings(1) and event-bindings(5). */
#include "bindings.h"
#include "buf.h"
#include "cli.h"
#include "cloudevent.h"
#include "diag.h"
#include "exitcode.h"
#include "inputs.h"
#include "json.h"
#include "kafkaconf.h"
#include "ndjson.h"
#include "outbuf.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
	"usage: event-bindings [-B FILE] [-q] [-v] list [--json]\n"
	"       event-bindings [-B FILE] [-q] [-v] resolve [--json] TYPE...\n"
	"       event-bindings [-B FILE] [-q] [-v] explain [--json] [--on-error fail|skip]\n"
	"                      [--max-line SIZE] [FILE...]\n"
	"       event-bindings [-B FILE] [-q] [-v] check [-b BROKERS] [-X PROP=VALUE]... [-F FILE]\n"
	"                      [--timeout DURATION]\n"
	"       event-bindings [-q] [-v] import spring FILE\n";

static const char help_text[] =
	"\n"
	"Show, query and check the routing table that maps a CloudEvents type to a\n"
	"binding and a Kafka topic. The table is read from --bindings FILE, else\n"
	"$EVENT_BINDINGS, else the built-in defaults (see event-bindings(5)).\n"
	"\n"
	"  list                  every binding (a table on a terminal, else TSV)\n"
	"  resolve TYPE...       binding and topic of each type; exit 1 if one has none\n"
	"  explain [FILE...]     per CloudEvent: type, binding, topic and Kafka key\n"
	"  check                 lint the bindings file; with a cluster, also check\n"
	"                        that every topic exists (exit 1 if one is missing)\n"
	"  import spring FILE    print the bindings of a Spring Cloud Stream YAML file\n"
	"\n"
	"  -B, --bindings FILE        the bindings file (- for standard input)\n"
	"  -j, --json                 JSON output (list, resolve, explain)\n"
	"      --on-error fail|skip   explain: stop at the first bad line (default) or go on\n"
	"      --max-line SIZE        explain: longest input line (default 1M)\n"
	"  -b, --brokers BROKERS      check: Kafka bootstrap servers (default $KAFKA_BROKERS)\n"
	"  -X, --property PROP=VALUE  check: librdkafka property (repeatable)\n"
	"  -F, --config-file FILE     check: librdkafka properties file\n"
	"      --timeout DURATION     check: wait this long for the cluster (default 10s)\n"
	"  -q, --quiet                no warnings\n"
	"  -v, --verbose              more messages\n"
	"  -h, --help                 this help\n"
	"  -V, --version              print the version\n";

enum { OPT_ON_ERROR = 256, OPT_MAX_LINE, OPT_TIMEOUT };

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_TIMEOUT_MS 3600000

static const struct option long_options[] = {
	{ "bindings", required_argument, NULL, 'B' },
	{ "json", no_argument, NULL, 'j' },
	{ "on-error", required_argument, NULL, OPT_ON_ERROR },
	{ "max-line", required_argument, NULL, OPT_MAX_LINE },
	{ "brokers", required_argument, NULL, 'b' },
	{ "property", required_argument, NULL, 'X' },
	{ "config-file", required_argument, NULL, 'F' },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	CLI_COMMON_LONG_OPTIONS
};

enum command { CMD_LIST, CMD_RESOLVE, CMD_EXPLAIN, CMD_CHECK, CMD_IMPORT };

static const char *const command_names[] = { "list", "resolve", "explain", "check", "import" };

struct config {
	enum command cmd;
	const char *bindings_path;
	int json;
	int explain_opts; /* --on-error or --max-line given */
	inputs in;
	kafkaconf *kc;    /* set when -b, -X or -F asks for the cluster check */
	const char *kafka_file;
	uint64_t timeout_ms;
	int timeout_given;
	char **args;      /* operands after the command */
	int nargs;
};

static int usage_error(const char *fmt, const char *arg)
{
	if (arg)
		return cli_usage_error(usage_text, fmt, arg);
	return cli_usage_error(usage_text, "%s", fmt);
}

/* The Kafka configuration, made when the first Kafka option is seen. */
static kafkaconf *kafka(struct config *c)
{
	if (!c->kc && !(c->kc = kafkaconf_new())) {
		diag_error("out of memory");
		exit(EXIT_SOFTWARE);
	}
	return c->kc;
}

static int parse_args(int argc, char **argv, struct config *c)
{
	int opt;
	errinfo err = { 0 };
	c->timeout_ms = DEFAULT_TIMEOUT_MS;
	while ((opt = getopt_long(argc, argv, "B:jb:X:F:qvhV", long_options, NULL)) != -1) {
		switch (opt) {
		case 'b':
			if (kafkaconf_set_brokers(kafka(c), optarg, &err) != 0)
				return usage_error("%s", err.text);
			break;
		case 'X':
			if (kafkaconf_set_flag(kafka(c), optarg, &err) != 0)
				return usage_error("%s", err.text);
			break;
		case 'F':
			kafka(c);
			c->kafka_file = optarg;
			break;
		case OPT_TIMEOUT:
			if (cli_parse_duration_ms(optarg, &c->timeout_ms) != 0 ||
			    c->timeout_ms < 100 || c->timeout_ms > MAX_TIMEOUT_MS)
				return usage_error("--timeout wants a duration from 100ms to 60m: %s", optarg);
			c->timeout_given = 1;
			break;
		case 'B': c->bindings_path = optarg; break;
		case 'j': c->json = 1; break;
		case OPT_ON_ERROR:
			if (on_error_parse(optarg, &c->in.on_error) != 0)
				return usage_error("--on-error wants fail or skip: %s", optarg);
			c->explain_opts = 1;
			break;
		case OPT_MAX_LINE:
			if (cli_parse_size(optarg, (size_t)1 << 30, &c->in.max_line) != 0 ||
			    c->in.max_line == 0)
				return usage_error("--max-line wants a size from 1 to 1G: %s", optarg);
			c->explain_opts = 1;
			break;
		default:
			if (cli_common_option(opt, usage_text, help_text) != 0)
				return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return usage_error("no command given", NULL);
	const char *cmd = argv[optind++];
	size_t i;
	for (i = 0; i < sizeof command_names / sizeof *command_names; i++)
		if (!strcmp(cmd, command_names[i]))
			break;
	if (i == sizeof command_names / sizeof *command_names)
		return usage_error("unknown command: %s", cmd);
	c->cmd = (enum command)i;
	c->args = argv + optind;
	c->nargs = argc - optind;

	if (c->json && c->cmd != CMD_LIST && c->cmd != CMD_RESOLVE && c->cmd != CMD_EXPLAIN)
		return usage_error("--json goes with list, resolve or explain", NULL);
	if (c->explain_opts && c->cmd != CMD_EXPLAIN)
		return usage_error("--on-error and --max-line go with explain", NULL);
	if ((c->kc || c->timeout_given) && c->cmd != CMD_CHECK)
		return usage_error("-b, -X, -F and --timeout go with check", NULL);
	if (c->timeout_given && !c->kc)
		return usage_error("--timeout needs a cluster: -b, -X or -F", NULL);
	switch (c->cmd) {
	case CMD_LIST:
	case CMD_CHECK:
		if (c->nargs)
			return usage_error("%s takes no operands", cmd);
		break;
	case CMD_RESOLVE:
		if (!c->nargs)
			return usage_error("resolve needs at least one TYPE", NULL);
		break;
	case CMD_EXPLAIN:
		c->in.files = c->args;
		c->in.nfiles = c->nargs;
		c->in.skip_blank = 1;
		if (c->bindings_path && !strcmp(c->bindings_path, "-")) {
			int events_from_stdin = c->nargs == 0;
			for (int k = 0; k < c->nargs; k++)
				events_from_stdin |= !strcmp(c->args[k], "-");
			if (events_from_stdin)
				return usage_error("-B - and events on standard input exclude each other", NULL);
		}
		break;
	case CMD_IMPORT:
		if (c->bindings_path)
			return usage_error("--bindings does not go with import", NULL);
		if (c->nargs != 2 || strcmp(c->args[0], "spring") != 0)
			return usage_error("import wants: import spring FILE", NULL);
		break;
	}
	return 0;
}

/* ---- output helpers ----------------------------------------------------- */

/* A TSV field: tab, newline, CR and backslash are escaped (\t \n \r \\),
 * other control bytes as \xHH, so every record stays one line. */
static int put_field(buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		int rc;
		switch (ch) {
		case '\t': rc = buf_puts(b, "\\t"); break;
		case '\n': rc = buf_puts(b, "\\n"); break;
		case '\r': rc = buf_puts(b, "\\r"); break;
		case '\\': rc = buf_puts(b, "\\\\"); break;
		default:
			rc = ch < 0x20 || ch == 0x7f ? buf_printf(b, "\\x%02x", ch) : buf_putc(b, (char)ch);
		}
		if (rc != 0)
			return -1;
	}
	return 0;
}

static int put_fields(buf *b, const char *const *f, size_t nf)
{
	for (size_t i = 0; i < nf; i++) {
		if (i && buf_putc(b, '\t') != 0)
			return -1;
		const char *s = f[i] ? f[i] : "-";
		if (put_field(b, s, strlen(s)) != 0)
			return -1;
	}
	return buf_putc(b, '\n');
}

/* "name":"value" (value NULL gives null), preceded by a comma unless first. */
static int put_member(buf *b, int first, const char *name, const char *v, size_t n)
{
	if ((!first && buf_putc(b, ',') != 0) || buf_printf(b, "\"%s\":", name) != 0)
		return -1;
	return v ? json_string_encode(b, v, n) : buf_puts(b, "null");
}

static int put_smember(buf *b, int first, const char *name, const char *v)
{
	return put_member(b, first, name, v, v ? strlen(v) : 0);
}

static int emit(outbuf *out, buf *b)
{
	return outbuf_write(out, b->data, b->len);
}

static int json_binding(buf *b, const binding *x)
{
	int rc = buf_putc(b, '{');
	if (x->kind == BINDING_PRODUCER) {
		rc = rc ? rc : put_member(b, 1, "type", x->event_type, x->event_type_len);
		rc = rc ? rc : put_smember(b, 0, "binding", x->name);
		rc = rc ? rc : put_smember(b, 0, "topic", x->topic);
		rc = rc ? rc : put_smember(b, 0, "mode", bindings_mode_name(x->mode));
		rc = rc ? rc : put_smember(b, 0, "key", x->key_rule);
	} else {
		rc = rc ? rc : put_smember(b, 1, "binding", x->name);
		rc = rc ? rc : put_smember(b, 0, "topic", x->topic);
		rc = rc ? rc : put_smember(b, 0, "group", x->group);
	}
	return rc ? rc : buf_putc(b, '}');
}

static int out_of_memory(void)
{
	diag_error("out of memory");
	return EXIT_SOFTWARE;
}

/* ---- list --------------------------------------------------------------- */

#define LIST_COLS 7
static const char *const list_head[LIST_COLS] = { "KIND", "TYPE", "BINDING", "TOPIC", "GROUP", "MODE", "KEY" };

static void list_row(const binding *x, const char *f[LIST_COLS])
{
	int p = x->kind == BINDING_PRODUCER;
	f[0] = p ? "producer" : "consumer";
	f[1] = p ? x->event_type : NULL;
	f[2] = x->name;
	f[3] = x->topic;
	f[4] = p ? NULL : x->group;
	f[5] = p ? bindings_mode_name(x->mode) : NULL;
	f[6] = p ? x->key_rule : NULL;
}

/* Display width of UTF-8 text: one column per code point (the fields
 * hold no control characters; wide characters are rare in type names). */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static int list_table(const bindings *t, outbuf *out)
{
	size_t w[LIST_COLS];
	for (int k = 0; k < LIST_COLS; k++)
		w[k] = width(list_head[k]);
	for (size_t i = 0; i < bindings_count(t); i++) {
		const char *f[LIST_COLS];
		list_row(bindings_at(t, i), f);
		for (int k = 0; k < LIST_COLS; k++) {
			size_t fw = width(f[k] ? f[k] : "-");
			if (fw > w[k])
				w[k] = fw;
		}
	}
	buf b = BUF_INIT(1 << 20);
	int rc = 0;
	for (size_t i = 0; i <= bindings_count(t) && rc == 0; i++) {
		const char *f[LIST_COLS];
		if (i == 0)
			memcpy(f, list_head, sizeof f);
		else
			list_row(bindings_at(t, i - 1), f);
		buf_reset(&b);
		for (int k = 0; k < LIST_COLS && rc == 0; k++) {
			const char *s = f[k] ? f[k] : "-";
			rc = buf_puts(&b, s);
			for (size_t pad = width(s); rc == 0 && k < LIST_COLS - 1 && pad < w[k] + 2; pad++)
				rc = buf_putc(&b, ' ');
		}
		rc = rc ? rc : buf_putc(&b, '\n');
		rc = rc ? rc : emit(out, &b);
	}
	buf_free(&b);
	return rc ? out_of_memory() : 0;
}

static int cmd_list(const bindings *t, const struct config *c, outbuf *out)
{
	if (!c->json && isatty(STDOUT_FILENO))
		return list_table(t, out);
	buf b = BUF_INIT(1 << 20);
	int rc = 0;
	if (c->json) {
		/* One document, producers and consumers apart: scripts index
		 * them without filtering on a kind field. */
		rc = buf_puts(&b, "{\"producers\":[");
		for (int kind = BINDING_PRODUCER; kind <= BINDING_CONSUMER && rc == 0; kind++) {
			int first = 1;
			if (kind == BINDING_CONSUMER)
				rc = buf_puts(&b, "],\"consumers\":[");
			for (size_t i = 0; i < bindings_count(t) && rc == 0; i++) {
				const binding *x = bindings_at(t, i);
				if ((int)x->kind != kind)
					continue;
				if (!first)
					rc = buf_putc(&b, ',');
				first = 0;
				rc = rc ? rc : json_binding(&b, x);
				if (rc == 0 && b.len > 65536) {
					rc = emit(out, &b);
					buf_reset(&b);
				}
			}
		}
		rc = rc ? rc : buf_puts(&b, "]}\n");
		rc = rc ? rc : emit(out, &b);
	} else {
		for (size_t i = 0; i < bindings_count(t) && rc == 0; i++) {
			const char *f[LIST_COLS];
			list_row(bindings_at(t, i), f);
			buf_reset(&b);
			rc = put_fields(&b, f, LIST_COLS);
			rc = rc ? rc : emit(out, &b);
		}
	}
	buf_free(&b);
	return rc ? out_of_memory() : 0;
}

/* ---- resolve ------------------------------------------------------------ */

static int cmd_resolve(const bindings *t, const struct config *c, outbuf *out)
{
	int status = 0;
	buf b = BUF_INIT(1 << 20);
	for (int i = 0; i < c->nargs; i++) {
		const char *type = c->args[i];
		const binding *x = bindings_resolve(t, type, strlen(type));
		if (!x) {
			if (diag_verbosity >= 0)
				diag_warn("no binding for event type %s", type);
			status = EXIT_NO;
			continue;
		}
		buf_reset(&b);
		int rc;
		if (c->json)
			rc = json_binding(&b, x) || buf_putc(&b, '\n');
		else {
			const char *f[3] = { type, x->name, x->topic };
			rc = put_fields(&b, f, 3);
		}
		if (rc || emit(out, &b))
			break;
	}
	buf_free(&b);
	return status;
}

/* ---- explain ------------------------------------------------------------ */

struct explain {
	const bindings *t;
	const struct config *c;
	inputs *in;
	outbuf *out;
	buf type, key, line;
	unsigned long unbound;
};

static int explain_line(void *ctx, const char *line, size_t len, errinfo *err)
{
	struct explain *x = ctx;
	cloudevent ev;
	int status = ce_parse_line(&ev, line, len, err);
	if (status)
		return status;
	buf_reset(&x->type);
	buf_reset(&x->key);
	buf_reset(&x->line);
	if (ce_attr_value(&ev.type, &x->type) != 0)
		return errinfo_set(err, EXIT_SOFTWARE, "out of memory");
	const binding *b = bindings_resolve(x->t, x->type.data, x->type.len);
	int has_key = 0;
	if (b) {
		has_key = bindings_key(b, &ev, &x->key);
		if (has_key < 0)
			return errinfo_set(err, EXIT_SOFTWARE, "out of memory");
	} else {
		x->unbound++;
		if (diag_verbosity >= 0)
			diag_input_warn(x->in->cur_name, x->in->cur_line,
					"no binding for event type %.*s",
					x->type.len > 200 ? 200 : (int)x->type.len, x->type.data);
	}
	int rc;
	if (x->c->json) {
		rc = buf_putc(&x->line, '{');
		rc = rc ? rc : put_member(&x->line, 1, "type", x->type.data, x->type.len);
		rc = rc ? rc : put_smember(&x->line, 0, "binding", b ? b->name : NULL);
		rc = rc ? rc : put_smember(&x->line, 0, "topic", b ? b->topic : NULL);
		rc = rc ? rc : put_smember(&x->line, 0, "mode", b ? bindings_mode_name(b->mode) : NULL);
		rc = rc ? rc : put_member(&x->line, 0, "key", has_key ? x->key.data : NULL, x->key.len);
		rc = rc ? rc : buf_puts(&x->line, "}\n");
	} else {
		rc = put_field(&x->line, x->type.data, x->type.len);
		const char *f[2] = { b ? b->name : NULL, b ? b->topic : NULL };
		for (int k = 0; k < 2 && rc == 0; k++)
			rc = buf_putc(&x->line, '\t') || put_field(&x->line, f[k] ? f[k] : "-", strlen(f[k] ? f[k] : "-"));
		rc = rc ? rc : buf_putc(&x->line, '\t');
		if (rc == 0)
			rc = has_key ? put_field(&x->line, x->key.data, x->key.len) : buf_putc(&x->line, '-');
		rc = rc ? rc : buf_putc(&x->line, '\n');
	}
	if (rc)
		return errinfo_set(err, EXIT_SOFTWARE, "out of memory");
	return inputs_emit(x->out, x->line.data, x->line.len, err);
}

static int cmd_explain(const bindings *t, struct config *c, outbuf *out)
{
	size_t max = c->in.max_line ? c->in.max_line : NDJSON_DEFAULT_MAX_LINE;
	/* Decoded values are never longer than the line; escaping at most
	 * quadruples them (\xHH) and JSON encoding at most sextuples (\u00XX). */
	struct explain x = { t, c, &c->in, out, BUF_INIT(max + 16), BUF_INIT(max + 16),
			     BUF_INIT(12 * max + 1024), 0 };
	c->in.flush = out;
	int status = inputs_run(&c->in, explain_line, &x);
	if (c->in.bad && c->in.on_error == ON_ERROR_SKIP)
		diag_warn("%lu bad line%s skipped", c->in.bad, c->in.bad == 1 ? "" : "s");
	if (status == 0 && x.unbound)
		status = EXIT_NO;
	buf_free(&x.type);
	buf_free(&x.key);
	buf_free(&x.line);
	return status;
}

/* ---- check -------------------------------------------------------------- */

struct lint {
	unsigned long errors, warnings;
};

static void lint_report(void *arg, int severity, const char *file, unsigned long line, const char *msg)
{
	struct lint *l = arg;
	if (severity == BINDINGS_ERROR) {
		l->errors++;
		diag_input_error(file, line, "%s", msg);
	} else {
		l->warnings++;
		if (diag_verbosity >= 0)
			diag_input_warn(file, line, "%s", msg);
	}
}

/* A topic the file names, with the first line that names it. */
struct named_topic {
	const char *topic;
	const binding *first;
};

static int by_topic_then_line(const void *a, const void *b)
{
	const struct named_topic *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);
	if (c)
		return c;
	return (x->first->line > y->first->line) - (x->first->line < y->first->line);
}

static int by_line(const void *a, const void *b)
{
	const struct named_topic *x = a, *y = b;
	return (x->first->line > y->first->line) - (x->first->line < y->first->line);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every topic of the table, once, in the order the file first names them.
 * Sorting keeps this O(n log n) for tables of any size. */
static struct named_topic *distinct_topics(const bindings *t, size_t *count)
{
	size_t n = bindings_count(t), k = 0;
	struct named_topic *v = malloc((n ? n : 1) * sizeof *v);
	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++)
		v[i] = (struct named_topic){ bindings_at(t, i)->topic, bindings_at(t, i) };
	qsort(v, n, sizeof *v, by_topic_then_line);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || strcmp(v[k - 1].topic, v[i].topic) != 0)
			v[k++] = v[i];
	qsort(v, k, sizeof *v, by_line);
	*count = k;
	return v;
}

/* Ask the cluster for its topics; print each topic of the table it lacks. */
static int check_cluster(const bindings *t, struct config *c, outbuf *out)
{
	errinfo err = { 0 };
	int rc = 0;
	if (c->kafka_file)
		rc = kafkaconf_load_file(c->kc, c->kafka_file, &err);
	if (rc == 0)
		rc = kafkaconf_load_env(c->kc, &err);
	if (rc != 0) {
		diag_errinfo(&err);
		return rc;
	}
	if (diag_verbosity > 0)
		kafkaconf_dump(c->kc, stderr);
	kafkaconf_topics have = { 0 };
	rc = kafkaconf_list_topics(c->kc, (int)c->timeout_ms, &have, &err);
	if (rc != 0) {
		diag_errinfo(&err);
		kafkaconf_topics_free(&have);
		return rc;
	}
	const char **names = malloc((have.n ? have.n : 1) * sizeof *names);
	size_t nt = 0;
	struct named_topic *want = distinct_topics(t, &nt);
	if (!names || !want) {
		free(names);
		free(want);
		kafkaconf_topics_free(&have);
		return out_of_memory();
	}
	for (size_t i = 0; i < have.n; i++)
		names[i] = have.v[i].name;
	qsort(names, have.n, sizeof *names, by_name);
	size_t missing = 0;
	buf line = BUF_INIT(1024);
	for (size_t i = 0; i < nt; i++) {
		if (bsearch(&want[i].topic, names, have.n, sizeof *names, by_name))
			continue;
		missing++;
		diag_input_error(bindings_source(t), want[i].first->line,
				 "topic %s (binding %s) does not exist on the cluster",
				 want[i].topic, want[i].first->name);
		buf_reset(&line);
		if (buf_puts(&line, want[i].topic) == 0 && buf_putc(&line, '\n') == 0)
			emit(out, &line);
	}
	buf_free(&line);
	if (diag_verbosity > 0)
		diag_info("%zu of %zu topics found on the cluster (%zu topics there)",
			  nt - missing, nt, have.n);
	free(names);
	free(want);
	kafkaconf_topics_free(&have);
	return missing ? EXIT_NO : 0;
}

static int cmd_check(struct config *c, outbuf *out)
{
	struct lint l = { 0, 0 };
	errinfo err = { 0 };
	bindings *t = bindings_load_report(c->bindings_path, lint_report, &l, &err);
	if (!t) {
		if (l.errors == 0) /* not about a line: the file itself */
			diag_errinfo(&err);
		return err.code ? err.code : EXIT_SOFTWARE;
	}
	if (diag_verbosity > 0)
		diag_info("%s: %zu bindings, %lu warning%s", bindings_source(t), bindings_count(t),
			  l.warnings, l.warnings == 1 ? "" : "s");
	int status = c->kc ? check_cluster(t, c, out) : 0;
	bindings_free(t);
	return status;
}

/* ---- import ------------------------------------------------------------- */

static void import_report(void *arg, int severity, const char *file, unsigned long line, const char *msg)
{
	(void)arg;
	if (severity == BINDINGS_ERROR)
		diag_input_error(file, line, "%s", msg);
	else if (diag_verbosity >= 0)
		diag_input_warn(file, line, "%s", msg);
}

static int cmd_import(const struct config *c, outbuf *out)
{
	buf b = BUF_INIT(64u * 1024 * 1024);
	errinfo err = { 0 };
	int status = bindings_import_spring(c->args[1], &b, import_report, NULL, &err);
	if (status == 0)
		emit(out, &b);
	else
		diag_errinfo(&err);
	buf_free(&b);
	return status;
}

/* ---- main --------------------------------------------------------------- */

static int run(struct config *c, outbuf *out)
{
	if (c->cmd == CMD_IMPORT)
		return cmd_import(c, out);
	if (c->cmd == CMD_CHECK)
		return cmd_check(c, out);
	errinfo err = { 0 };
	bindings *t = bindings_load(c->bindings_path, &err);
	if (!t) {
		diag_errinfo(&err);
		return err.code ? err.code : EXIT_SOFTWARE;
	}
	diag_debug("bindings from %s", bindings_source(t));
	int status;
	switch (c->cmd) {
	case CMD_LIST: status = cmd_list(t, c, out); break;
	case CMD_RESOLVE: status = cmd_resolve(t, c, out); break;
	default: status = cmd_explain(t, c, out); break;
	}
	bindings_free(t);
	return status;
}

int main(int argc, char **argv)
{
	struct config c = { 0 };
	cli_start(argv[0]);
	int status = parse_args(argc, argv, &c);
	outbuf out;
	if (status == 0 && outbuf_init(&out, STDOUT_FILENO, 0) != 0)
		status = out_of_memory();
	if (status) {
		kafkaconf_free(c.kc);
		return status;
	}
	status = run(&c, &out);
	kafkaconf_free(c.kc);
	return cli_finish_output(&out, status);
}
