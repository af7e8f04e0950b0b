/* event-consume - Kafka topics to CloudEvents NDJSON, or to a handler,
 * committing an offset only after its event was handled. See
 * event-consume(1). */
#include "bindings.h"
#include "cli.h"
#include "consume.h"
#include "diag.h"
#include "exitcode.h"
#include "handler.h"
#include "kafkaconf.h"
#include "timefmt.h"

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
	"usage: event-consume (-t TOPIC... | --binding NAME) [-g GROUP] [-b BROKERS]\n"
	"                     [-X PROP=VALUE]... [-F FILE] [-B FILE]\n"
	"                     [--from beginning|end|stored|TIME] [-c N] [--exit-eof]\n"
	"                     [--idle-timeout DURATION] [--type TYPE]...\n"
	"                     [--data-only | --with-kafka]\n"
	"                     [--exec CMD | --post URL [--mode binary|structured]]\n"
	"                     [--batch N] [--handler-timeout DURATION] [--max-attempts N]\n"
	"                     [--backoff MIN,MAX] [--dlq TOPIC | --no-dlq]\n"
	"                     [--dedupe FILE [--dedupe-ttl DURATION]] [--metrics-file FILE]\n"
	"                     [-q] [-v]\n"
	"       event-consume -h | -V\n";

static const char help_text[] =
	"\n"
	"Read CloudEvents (binary or structured mode) from Kafka and print them as\n"
	"NDJSON, or hand them to a command or an HTTP endpoint; with a group, an\n"
	"offset is committed only after its event was handled.\n"
	"\n"
	"  -t, --topic TOPIC            topic to read (repeatable)\n"
	"      --binding NAME           consumer binding: its topic and group\n"
	"  -g, --group GROUP            consumer group (commits offsets)\n"
	"  -b, --brokers LIST           Kafka bootstrap servers (default: $KAFKA_BROKERS)\n"
	"  -X, --property PROP=VALUE    librdkafka property (repeatable)\n"
	"  -F, --config-file FILE       librdkafka properties file\n"
	"  -B, --bindings FILE          bindings table (default: $EVENT_BINDINGS, built-in)\n"
	"      --from WHERE             beginning, end, stored, or a time (RFC 3339, epoch ms)\n"
	"  -c, --count N                stop after N events\n"
	"      --exit-eof               stop at the end offsets seen at start\n"
	"      --idle-timeout DURATION  stop after this long without a message\n"
	"      --type TYPE              only events of this type (repeatable)\n"
	"      --data-only              print only each event's data\n"
	"      --with-kafka             wrap each event with topic, partition, offset, key\n"
	"      --exec CMD               run CMD (sh -c) per event (or --batch), events on stdin\n"
	"      --post URL               deliver each event over HTTP\n"
	"      --mode binary|structured HTTP content mode for --post (default: binary)\n"
	"      --batch N                hand up to N events to one handler run\n"
	"      --handler-timeout DURATION  a handler run may take this long (default 5m)\n"
	"      --max-attempts N         handler attempts before dead-lettering (default 5)\n"
	"      --backoff MIN,MAX        retry delay range (default 1s,1m)\n"
	"      --dlq TOPIC              dead-letter topic (default: error.TOPIC.GROUP)\n"
	"      --no-dlq                 report failed events instead of dead-lettering\n"
	"      --dedupe FILE            skip events whose (source, id) FILE has seen\n"
	"      --dedupe-ttl DURATION    forget dedupe records older than this\n"
	"      --metrics-file FILE      write Prometheus metrics to FILE\n"
	"  -q, --quiet                  no summary, no warnings\n"
	"  -v, --verbose                more messages\n"
	"  -h, --help                   this help\n"
	"  -V, --version                print the version\n";

enum {
	OPT_BINDING = 256, OPT_FROM, OPT_EXIT_EOF, OPT_IDLE, OPT_TYPE, OPT_DATA_ONLY, OPT_WITH_KAFKA,
	OPT_EXEC, OPT_POST, OPT_MODE, OPT_BATCH, OPT_HANDLER_TIMEOUT, OPT_MAX_ATTEMPTS, OPT_BACKOFF,
	OPT_DLQ, OPT_NO_DLQ, OPT_DEDUPE, OPT_DEDUPE_TTL, OPT_METRICS
};

static const struct option long_options[] = {
	{ "topic", required_argument, NULL, 't' },
	{ "binding", required_argument, NULL, OPT_BINDING },
	{ "group", required_argument, NULL, 'g' },
	{ "brokers", required_argument, NULL, 'b' },
	{ "property", required_argument, NULL, 'X' },
	{ "config-file", required_argument, NULL, 'F' },
	{ "bindings", required_argument, NULL, 'B' },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "count", required_argument, NULL, 'c' },
	{ "exit-eof", no_argument, NULL, OPT_EXIT_EOF },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "type", required_argument, NULL, OPT_TYPE },
	{ "data-only", no_argument, NULL, OPT_DATA_ONLY },
	{ "with-kafka", no_argument, NULL, OPT_WITH_KAFKA },
	{ "exec", required_argument, NULL, OPT_EXEC },
	{ "post", required_argument, NULL, OPT_POST },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "handler-timeout", required_argument, NULL, OPT_HANDLER_TIMEOUT },
	{ "max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS },
	{ "backoff", required_argument, NULL, OPT_BACKOFF },
	{ "dlq", required_argument, NULL, OPT_DLQ },
	{ "no-dlq", no_argument, NULL, OPT_NO_DLQ },
	{ "dedupe", required_argument, NULL, OPT_DEDUPE },
	{ "dedupe-ttl", required_argument, NULL, OPT_DEDUPE_TTL },
	{ "metrics-file", required_argument, NULL, OPT_METRICS },
	CLI_COMMON_LONG_OPTIONS
};

struct config {
	consume_options co;
	const char **topics;
	size_t n_topics;
	const char **types;
	size_t n_types;
	const char *binding;
	char *binding_topic, *binding_group; /* resolved from --binding; owned */
	const char *bindings_path;
	const char *kafka_file;
	const char *exec_cmd, *post_url;
	int structured, mode_given;
	uint64_t handler_timeout_ms;
};

/* --from: beginning, end, stored, an RFC 3339 time, or epoch milliseconds. */
static int parse_from(const char *s, consume_options *co)
{
	uint64_t ms;
	int64_t us;
	if (strcmp(s, "beginning") == 0)
		co->from = CONSUME_FROM_BEGINNING;
	else if (strcmp(s, "end") == 0)
		co->from = CONSUME_FROM_END;
	else if (strcmp(s, "stored") == 0)
		co->from = CONSUME_FROM_STORED;
	else if (cli_parse_uint(s, (uint64_t)INT64_MAX, &ms) == 0) {
		co->from = CONSUME_FROM_TIME;
		co->from_ms = (int64_t)ms;
	} else if (rfc3339_parse_us(s, strlen(s), &us) == 0 && us >= 0) {
		co->from = CONSUME_FROM_TIME;
		co->from_ms = us / 1000;
	} else {
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct config *c, kafkaconf *kc)
{
	int opt;
	uint64_t v;
	errinfo err = { 0 };
	consume_options *co = &c->co;
	c->topics = calloc((size_t)argc, sizeof *c->topics);
	c->types = calloc((size_t)argc, sizeof *c->types);
	if (!c->topics || !c->types) {
		diag_error("out of memory");
		return EXIT_SOFTWARE;
	}
	c->handler_timeout_ms = 300000;
	while ((opt = getopt_long(argc, argv, "t:g:b:X:F:B:c:qvhV", long_options, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (!bindings_topic_valid(optarg, strlen(optarg)))
				return cli_bad_value(usage_text, "-t wants a Kafka topic name [a-zA-Z0-9._-]{1,249}", optarg);
			c->topics[c->n_topics++] = optarg;
			break;
		case OPT_BINDING:
			c->binding = optarg;
			break;
		case 'g':
			if (!*optarg)
				return cli_bad_value(usage_text, "-g wants a group id", NULL);
			co->group = optarg;
			break;
		case 'b':
			if (kafkaconf_set_brokers(kc, optarg, &err) != 0)
				return cli_bad_value(usage_text, err.text, NULL);
			break;
		case 'X':
			if (kafkaconf_set_flag(kc, optarg, &err) != 0)
				return cli_bad_value(usage_text, err.text, NULL);
			break;
		case 'F':
			c->kafka_file = optarg;
			break;
		case 'B':
			c->bindings_path = optarg;
			break;
		case OPT_FROM:
			if (parse_from(optarg, co) != 0)
				return cli_bad_value(usage_text, "--from wants beginning, end, stored, an RFC 3339 time "
						   "or epoch milliseconds", optarg);
			break;
		case 'c':
			if (cli_parse_uint(optarg, UINT64_MAX, &co->count) != 0 || co->count == 0)
				return cli_bad_value(usage_text, "-c wants a positive number of events", optarg);
			break;
		case OPT_EXIT_EOF:
			co->exit_eof = 1;
			break;
		case OPT_IDLE:
			if (cli_parse_timeout_ms(optarg, &co->idle_timeout_ms) != 0 || co->idle_timeout_ms == 0)
				return cli_bad_value(usage_text, "--idle-timeout wants a positive duration", optarg);
			break;
		case OPT_TYPE:
			if (!*optarg)
				return cli_bad_value(usage_text, "--type wants an event type", NULL);
			c->types[c->n_types++] = optarg;
			break;
		case OPT_DATA_ONLY:
			co->output = CONSUME_OUT_DATA;
			break;
		case OPT_WITH_KAFKA:
			co->output = CONSUME_OUT_WITH_KAFKA;
			break;
		case OPT_EXEC:
			if (!*optarg)
				return cli_bad_value(usage_text, "--exec wants a command", NULL);
			c->exec_cmd = optarg;
			break;
		case OPT_POST:
			if (!*optarg)
				return cli_bad_value(usage_text, "--post wants a URL", NULL);
			c->post_url = optarg;
			break;
		case OPT_MODE:
			if (strcmp(optarg, "binary") == 0)
				c->structured = 0;
			else if (strcmp(optarg, "structured") == 0)
				c->structured = 1;
			else
				return cli_bad_value(usage_text, "--mode wants binary or structured", optarg);
			c->mode_given = 1;
			break;
		case OPT_BATCH:
			if (cli_parse_uint(optarg, 100000, &v) != 0 || v == 0)
				return cli_bad_value(usage_text, "--batch wants a number from 1 to 100000", optarg);
			co->batch = (unsigned)v;
			break;
		case OPT_HANDLER_TIMEOUT:
			if (cli_parse_timeout_ms(optarg, &c->handler_timeout_ms) != 0 || c->handler_timeout_ms == 0)
				return cli_bad_value(usage_text, "--handler-timeout wants a positive duration", optarg);
			break;
		case OPT_MAX_ATTEMPTS:
			if (cli_parse_uint(optarg, 1000000, &v) != 0 || v == 0)
				return cli_bad_value(usage_text, "--max-attempts wants a number from 1 to 1000000", optarg);
			co->max_attempts = (unsigned)v;
			break;
		case OPT_BACKOFF:
			if (cli_parse_backoff(optarg, &co->backoff_min_ms, &co->backoff_max_ms) != 0)
				return cli_bad_value(usage_text, "--backoff wants MIN,MAX durations with 0 < MIN <= MAX, "
						   "such as 1s,1m", optarg);
			break;
		case OPT_DLQ:
			if (!bindings_topic_valid(optarg, strlen(optarg)))
				return cli_bad_value(usage_text, "--dlq wants a Kafka topic name", optarg);
			co->dlq_topic = optarg;
			break;
		case OPT_NO_DLQ:
			co->no_dlq = 1;
			break;
		case OPT_DEDUPE:
			if (!*optarg)
				return cli_bad_value(usage_text, "--dedupe wants a file name", NULL);
			co->dedupe_file = optarg;
			break;
		case OPT_DEDUPE_TTL:
			if (cli_parse_timeout_ms(optarg, &co->dedupe_ttl_ms) != 0 || co->dedupe_ttl_ms == 0)
				return cli_bad_value(usage_text, "--dedupe-ttl wants a positive duration", optarg);
			break;
		case OPT_METRICS:
			if (!*optarg)
				return cli_bad_value(usage_text, "--metrics-file wants a file name", NULL);
			co->metrics_file = optarg;
			break;
		default:
			if (cli_common_option(opt, usage_text, help_text) != 0)
				return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_bad_value(usage_text, "unexpected operand", argv[optind]);
	if (!c->n_topics && !c->binding)
		return cli_bad_value(usage_text, "name a topic with -t or a consumer binding with --binding", NULL);
	if (c->exec_cmd && c->post_url)
		return cli_bad_value(usage_text, "--exec and --post exclude each other", NULL);
	if ((c->exec_cmd || c->post_url) && co->output != CONSUME_OUT_EVENT)
		return cli_bad_value(usage_text, "--data-only and --with-kafka shape printed output; a handler gets "
				   "the events", NULL);
	if (c->mode_given && !c->post_url)
		return cli_bad_value(usage_text, "--mode goes with --post", NULL);
	if (co->batch > 1 && !c->exec_cmd && !c->post_url)
		return cli_bad_value(usage_text, "--batch goes with --exec or --post", NULL);
	if (co->dedupe_ttl_ms && !co->dedupe_file)
		return cli_bad_value(usage_text, "--dedupe-ttl goes with --dedupe", NULL);
	if (co->from == CONSUME_FROM_STORED && !co->group && !c->binding)
		return cli_bad_value(usage_text, "--from stored needs a group (-g)", NULL);
	if (co->dlq_topic && co->no_dlq)
		return cli_bad_value(usage_text, "--dlq and --no-dlq exclude each other", NULL);
	return 0;
}

/* --binding: the consumer binding's topic, and its group unless -g. */
static int resolve_binding(struct config *c)
{
	if (!c->binding)
		return 0;
	errinfo err;
	bindings *t = bindings_load(c->bindings_path, &err);
	if (!t) {
		diag_errinfo(&err);
		return err.code;
	}
	const binding *b = bindings_find(t, c->binding);
	if (!b || b->kind != BINDING_CONSUMER) {
		diag_error("%s: no consumer binding %s", bindings_source(t), c->binding);
		bindings_free(t);
		return EXIT_CONFIG;
	}
	/* The strings must outlive the table. */
	char *topic = strdup(b->topic);
	char *group = strdup(b->group);
	bindings_free(t);
	if (!topic || !group) {
		free(topic);
		free(group);
		diag_error("out of memory");
		return EXIT_SOFTWARE;
	}
	c->topics[c->n_topics++] = topic;
	c->binding_topic = topic;
	c->binding_group = group;
	if (!c->co.group)
		c->co.group = group;
	return 0;
}

static void summary(const consume_stats *st)
{
	if (diag_verbosity < 0)
		return;
	diag_info("consumed %lu, handled %lu", st->consumed, st->handled);
	if (st->dead_lettered || st->duplicates || st->undecodable || st->retried || st->skipped)
		diag_info("dead-lettered %lu, duplicates skipped %lu, undecodable %lu, retries %lu, "
			  "filtered out %lu",
			  st->dead_lettered, st->duplicates, st->undecodable, st->retried, st->skipped);
}

int main(int argc, char **argv)
{
	cli_start(argv[0]);
	struct config c;
	memset(&c, 0, sizeof c);
	consume_options_init(&c.co);
	kafkaconf *kc = kafkaconf_new();
	if (!kc) {
		diag_error("out of memory");
		return EXIT_SOFTWARE;
	}
	errinfo err = { 0 };
	consume_handler handler = { 0 };
	outbuf out;
	int have_out = 0;
	int status = parse_args(argc, argv, &c, kc);
	if (!status)
		status = resolve_binding(&c);
	if (!status && c.kafka_file && (status = kafkaconf_load_file(kc, c.kafka_file, &err)) != 0)
		diag_errinfo(&err);
	if (!status && (status = kafkaconf_load_env(kc, &err)) != 0)
		diag_errinfo(&err);
	if (!status && diag_verbosity > 0)
		kafkaconf_dump(kc, stderr);
	if (!status && c.exec_cmd &&
	    (status = handler_exec_new(&handler, c.exec_cmd, c.handler_timeout_ms, &err)) != 0)
		diag_errinfo(&err);
	if (!status && c.post_url &&
	    (status = handler_post_new(&handler, c.post_url, c.structured, c.handler_timeout_ms, &err)) != 0)
		diag_errinfo(&err);
	if (!status) {
		if (outbuf_init(&out, STDOUT_FILENO, 0) != 0) {
			diag_error("out of memory");
			status = EXIT_SOFTWARE;
		} else {
			have_out = 1;
		}
	}
	if (!status) {
		cli_catch_stop();
		c.co.topics = c.topics;
		c.co.n_topics = c.n_topics;
		c.co.types = c.types;
		c.co.n_types = c.n_types;
		c.co.kc = kc;
		c.co.out = &out;
		c.co.handler = handler.handle ? &handler : NULL;
		c.co.handler_timeout_ms = c.handler_timeout_ms;
		consume_stats st;
		status = consume_run(&c.co, &cli_stop, &st, &err);
		if (status)
			diag_errinfo(&err);
		summary(&st);
	}
	if (handler.close)
		handler.close(handler.self);
	if (have_out)
		status = cli_finish_output(&out, status);
	kafkaconf_free(kc);
	free(c.topics);
	free(c.types);
	free(c.binding_topic);
	free(c.binding_group);
	return status;
}
